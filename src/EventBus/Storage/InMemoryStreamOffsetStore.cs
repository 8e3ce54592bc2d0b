using System.Collections.Concurrent;

namespace EventBus;

/// <summary>
/// The default <see cref="IStreamOffsetStore"/>: committed offsets in memory, for the life of the container. A group's worker writes
/// its slot directly (no lookup per commit).
/// </summary>
internal sealed class InMemoryStreamOffsetStore : IStreamOffsetStore
{
    private readonly ConcurrentDictionary<(string Topic, string Group), OffsetSlot> _slots = new();

    public ValueTask<long?> LoadAsync(string topic, string group, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new(_slots.TryGetValue((topic, group), out var slot) ? slot.Read() : null);
    }

    public ValueTask SaveAsync(string topic, string group, long offset, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        GetSlot(topic, group).Write(offset);
        return default;
    }

    public OffsetSlot GetSlot(string topic, string group) => _slots.GetOrAdd((topic, group), static _ => new OffsetSlot());

    /// <summary>One group's committed offset.</summary>
    internal sealed class OffsetSlot
    {
        private long _offsetPlusOne;

        public long? Read() => Volatile.Read(ref _offsetPlusOne) is var value and > 0 ? value - 1 : null;

        public void Write(long offset) => Volatile.Write(ref _offsetPlusOne, offset + 1);
    }
}
