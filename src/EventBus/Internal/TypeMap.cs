using System.Diagnostics.CodeAnalysis;
using System.Numerics;

namespace EventBus;

/// <summary>
/// A read-only map from types to values, built once and then read by any number of threads without locks: the lookup of an
/// inline command send, which finds the route of the command's runtime type on every call.
/// </summary>
/// <remarks>
/// The key of a lookup is an object's type handle (<see cref="Type.GetTypeHandle(object)"/>), which the runtime reads from the
/// object's header without making a <see cref="Type"/> (as <see cref="object.GetType"/> does) or hashing one. The table is
/// open-addressed at most half full, so a lookup is a multiply, a shift and, almost always, one compare. The map holds its
/// types, so their handles stay valid while it lives.
/// </remarks>
/// <typeparam name="TValue">The value type.</typeparam>
internal sealed class TypeMap<TValue>
    where TValue : class
{
    private readonly Entry[] _entries;
    private readonly int _mask;
    private readonly int _shift;

    /// <summary>Initializes a new instance of the <see cref="TypeMap{TValue}"/> class.</summary>
    /// <param name="values">The entries.</param>
    public TypeMap(IReadOnlyDictionary<Type, TValue> values)
    {
        // At least twice as many slots as entries, so a probe sequence ends at an empty slot soon after it starts.
        _entries = new Entry[BitOperations.RoundUpToPowerOf2((uint)Math.Max(4, values.Count * 2))];
        _mask = _entries.Length - 1;
        _shift = 64 - BitOperations.Log2((uint)_entries.Length);
        foreach (var (type, value) in values)
        {
            var handle = type.TypeHandle.Value;
            var index = IndexOf(handle);
            while (_entries[index].Handle != 0)
            {
                index = (index + 1) & _mask;
            }

            _entries[index] = new Entry(handle, type, value);
        }

        Values = [.. values.Values];
    }

    /// <summary>Gets the number of entries.</summary>
    public int Count => Values.Count;

    /// <summary>Gets the values, in no particular order.</summary>
    public IReadOnlyList<TValue> Values { get; }

    /// <summary>Finds the value of an object's type.</summary>
    /// <param name="instance">The object.</param>
    /// <param name="value">The value of its runtime type when found; otherwise <see langword="null"/>.</param>
    /// <returns>Whether the object's type has a value.</returns>
    public bool TryGetValueOf(object instance, [MaybeNullWhen(false)] out TValue value) =>
        TryGetValue(Type.GetTypeHandle(instance).Value, out value);

    /// <summary>Finds the value of a type.</summary>
    /// <param name="type">The type.</param>
    /// <param name="value">The value when found; otherwise <see langword="null"/>.</param>
    /// <returns>Whether the type has a value.</returns>
    public bool TryGetValue(Type type, [MaybeNullWhen(false)] out TValue value) => TryGetValue(type.TypeHandle.Value, out value);

    private bool TryGetValue(nint handle, [MaybeNullWhen(false)] out TValue value)
    {
        var entries = _entries;
        var index = IndexOf(handle);
        while (true)
        {
            ref readonly var entry = ref entries[index];
            if (entry.Handle == handle)
            {
                value = entry.Value!;
                return true;
            }

            if (entry.Handle == 0)
            {
                value = null;
                return false;
            }

            index = (index + 1) & _mask;
        }
    }

    // Fibonacci hashing: handles are aligned addresses, so their low bits carry little; the multiply spreads the high ones.
    private int IndexOf(nint handle) => (int)(((ulong)handle * 0x9E37_79B9_7F4A_7C15UL) >> _shift);

    private readonly record struct Entry(nint Handle, Type? Type, TValue? Value);
}
