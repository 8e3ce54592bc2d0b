using System.Runtime.InteropServices;

namespace EventBus;

/// <summary>
/// Two cache lines of nothing. A field of this type at the end of a small object that one thread writes often (a worker's
/// counters) keeps the next object, which another thread may write, off those cache lines (false sharing).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal readonly struct CacheLinePadding;
