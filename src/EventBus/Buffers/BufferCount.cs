using System.Runtime.InteropServices;

namespace EventBus;

/// <summary>
/// How many envelopes a subscription's buffer holds, kept as two counters that only grow, each on its own cache line: added
/// (by whoever writes to the buffer, always under the topic's lock: publishers, re-drives, redelivery timers) and taken (by workers, and by whatever else removes an
/// envelope). Publishers check room against a <see cref="RoomLimit"/> (taken plus the free capacity, as last read), so a publish reads no
/// cache line that a worker writes on every message until the buffer nears that limit, and workers never read what publishers
/// write: the two sides do not contend per message.
/// </summary>
[StructLayout(LayoutKind.Explicit)]
internal sealed class BufferCount
{
    [FieldOffset(0)]
    private long _added;

    [FieldOffset(8)]
    private RoomLimit _limit; // the highest 'added' known to fit

    [FieldOffset(128)]
    private long _taken;

#pragma warning disable CS0169, IDE0051 // Never read: it keeps the cache line of _taken to itself.
    [FieldOffset(192)]
    private readonly long _end;
#pragma warning restore CS0169, IDE0051

    /// <summary>Gets the number of envelopes in the buffer.</summary>
    public int Count => (int)Math.Max(0, Volatile.Read(ref _added) - Volatile.Read(ref _taken));

    /// <summary>An envelope is about to be written to the buffer. Callers hold the topic's lock (every write to a subscription's
    /// buffer does), so adds never race each other and need no atomic instruction.</summary>
    public void Add() => Volatile.Write(ref _added, _added + 1);

    /// <summary>An envelope left the buffer (or a counted write failed).</summary>
    public void Take() => Interlocked.Increment(ref _taken);

    /// <summary>The free capacity shrank other than by an add (a message was scheduled for a delayed redelivery): the next room check reads the counters again.</summary>
    public void Invalidate() => _limit.Invalidate();

    /// <summary>
    /// Whether <paramref name="count"/> more envelopes fit: the buffer plus <paramref name="reserved"/> (places held elsewhere, such
    /// as scheduled redeliveries) stays within <paramref name="capacity"/>.
    /// </summary>
    public bool HasRoom(int count, int capacity, ref int reserved)
    {
        var wanted = Volatile.Read(ref _added) + count;
        return _limit.Covers(wanted) || _limit.Refresh(wanted, Volatile.Read(ref _taken) + capacity - Volatile.Read(ref reserved));
    }
}
