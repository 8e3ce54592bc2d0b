using System.Diagnostics;

namespace EventBus;

/// <summary>
/// The in-memory storage of a stream: records in fixed-size segments of preallocated entries, linked in offset order, trimmed
/// whole and reused, so appending and trimming cost the same at any length and allocate nothing in steady state.
/// </summary>
/// <remarks>
/// A reader reads the entries of the segment it stands on without the lock: an entry below the log's head never changes while a
/// reader stands on its segment, because a segment a reader stands on is never cleared or reused (trimming only unlinks it, and
/// the last reader to leave it pools it). A reader takes the lock once per segment. Memory is freed by whole segments, so up to
/// one segment more than the retained range is held.
/// </remarks>
internal sealed class SegmentedStreamStorage : IStreamStorage
{
    public const int SegmentSize = 512;
    private const int PoolLimit = 4;

    private readonly Lock _lock;
    private readonly Stack<Segment> _pool = new();
    private Segment _first;
    private Segment _last;
    private long _start;
    private Reader[] _readers = [];

    /// <summary>Gets the factory of in-memory storages: the default of every stream.</summary>
    public static IStreamStorageFactory Factory { get; } = new InMemoryFactory();

    public SegmentedStreamStorage(Lock streamLock)
    {
        _lock = streamLock;
        _first = _last = new Segment(0);
    }

    public void Append(long offset, in StreamRecord record)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Appends happen under the stream's lock.");
        var segment = _last;
        var index = (int)(offset - segment.Base);
        if (index == SegmentSize)
        {
            segment = AddSegment(offset);
            index = 0;
        }

        segment.Records[index] = record;
    }

    public void Trim(long start)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Trims happen under the stream's lock.");
        _start = start;
        while (_first != _last && _first.Base + SegmentSize <= start)
        {
            var freed = _first;
            _first = freed.Next!;
            freed.Linked = false;
            RecycleIfUnused(freed); // a reader standing on it recycles it when it moves on
        }
    }

    public long FindTimestamp(long from, long to, long ticks)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Searches happen under the stream's lock.");
        for (var segment = Find(from, null); segment is not null; segment = segment.Next)
        {
            if (segment.Next is not null && segment.Next.Base < to && segment.Next.Records[0].TimestampTicks < ticks)
            {
                continue; // every event of this segment is older
            }

            for (var offset = Math.Max(segment.Base, from); offset < Math.Min(segment.Base + SegmentSize, to); offset++)
            {
                if (segment.Records[offset - segment.Base].TimestampTicks >= ticks)
                {
                    return offset;
                }
            }
        }

        return to;
    }

    public long TimestampAt(long offset)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Searches happen under the stream's lock.");
        var segment = Find(offset, null);
        return segment.Records[offset - segment.Base].TimestampTicks;
    }

    public IStreamStorageReader OpenReader(long offset)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Readers open under the stream's lock.");
        var reader = new Reader(this, Find(Math.Max(offset, _start), null));
        _readers = [.. _readers, reader];
        return reader;
    }

    /// <summary>Under the lock: links a pooled or new segment at the head.</summary>
    private Segment AddSegment(long baseOffset)
    {
        var segment = _pool.TryPop(out var reused) ? reused.Reset(baseOffset) : new Segment(baseOffset);
        segment.Linked = true;
        _last.Next = segment;
        _last = segment;
        return segment;
    }

    /// <summary>Under the lock: clears and pools an unlinked segment once no reader stands on it.</summary>
    private void RecycleIfUnused(Segment segment)
    {
        if (segment.Linked)
        {
            return;
        }

        foreach (var reader in _readers)
        {
            if (reader.Segment == segment)
            {
                return;
            }
        }

        Array.Clear(segment.Records); // release the messages
        if (_pool.Count < PoolLimit)
        {
            _pool.Push(segment);
        }
    }

    /// <summary>Under the lock: the linked segment that holds <paramref name="offset"/> (the last one for the head).</summary>
    private Segment Find(long offset, Segment? hint)
    {
        if (hint is { Next: { Linked: true } next } && next.Base == hint.Base + SegmentSize && offset - next.Base is >= 0 and < SegmentSize)
        {
            return next;
        }

        for (var segment = _first; ; segment = segment.Next!)
        {
            if (offset < segment.Base + SegmentSize || segment.Next is null)
            {
                return segment;
            }
        }
    }

    /// <summary>A fixed block of entries; <see cref="Base"/> is the offset of its first entry.</summary>
    private sealed class Segment(long baseOffset)
    {
        public StreamRecord[] Records { get; } = new StreamRecord[SegmentSize];

        public long Base { get; private set; } = baseOffset;

        public Segment? Next { get; set; }

        /// <summary>Gets or sets a value indicating whether the segment is in the chain (not trimmed, not pooled).</summary>
        public bool Linked { get; set; } = true;

        public Segment Reset(long baseOffset)
        {
            Base = baseOffset;
            Next = null;
            return this;
        }
    }

    /// <summary>A reader's place: the segment it reads from (moved only under the lock).</summary>
    private sealed class Reader(SegmentedStreamStorage storage, Segment segment) : IStreamStorageReader
    {
        public Segment Segment { get; private set; } = segment;

        public bool TryRead(long offset, out StreamRecord record)
        {
            var segment = Segment;
            var index = offset - segment.Base;
            if ((ulong)index < SegmentSize)
            {
                record = segment.Records[index];
                return true;
            }

            lock (storage._lock)
            {
                if (offset < storage._start)
                {
                    record = default;
                    return false;
                }

                var left = segment;
                segment = Segment = storage.Find(offset, left);
                storage.RecycleIfUnused(left);
                record = segment.Records[offset - segment.Base];
                return true;
            }
        }

        public void Close()
        {
            Debug.Assert(storage._lock.IsHeldByCurrentThread, "Readers close under the stream's lock.");
            storage._readers = Array.FindAll(storage._readers, r => r != this);
            storage.RecycleIfUnused(Segment);
        }
    }

    private sealed class InMemoryFactory : IStreamStorageFactory
    {
        public IStreamStorage Create(string topic, Lock streamLock) => new SegmentedStreamStorage(streamLock);
    }
}
