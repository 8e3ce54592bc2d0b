namespace EventBus;

/// <content>The log's storage: segments of preallocated records, linked in offset order, pooled when trimmed.</content>
internal sealed partial class StreamLog
{
    /// <summary>
    /// Under the lock: links a pooled or new segment at the head; then, with neither retention option, moves the start to the
    /// lowest offset that the default history or a group still needs, which frees the whole segments behind it.
    /// </summary>
    private Segment AddSegment(long baseOffset)
    {
        var segment = _pool.TryPop(out var reused) ? reused.Reset(baseOffset) : new Segment(baseOffset);
        segment.Linked = true;
        _last.Next = segment;
        _last = segment;
        if (_options.MaxCount is null && _options.MaxAge is null)
        {
            // No retention option: keep the default history, and what some group still needs (a stopped group: up to its capacity).
            var floor = _next - StreamOptions.DefaultHistory;
            foreach (var group in _groups)
            {
                floor = Math.Min(floor, group.Committed);
            }

            foreach (var stopped in _stoppedGroups.Values)
            {
                floor = Math.Min(floor, Math.Max(stopped.Committed, _next - stopped.Capacity));
            }

            if (floor > _start)
            {
                MoveStart(floor);
            }
        }

        return segment;
    }

    /// <summary>Under the lock: clears and pools an unlinked segment once no cursor stands on it.</summary>
    private void RecycleIfUnused(Segment segment)
    {
        if (segment.Linked)
        {
            return;
        }

        foreach (var cursor in _cursors)
        {
            if (cursor.Segment == segment)
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
    internal sealed class Segment(long baseOffset)
    {
        public StreamRecord[] Records { get; } = new StreamRecord[SegmentSize];

        public long Base { get; private set; } = baseOffset;

        public Segment? Next { get; set; }

        /// <summary>Gets or sets a value indicating whether the segment is in the log's chain (not trimmed, not pooled).</summary>
        public bool Linked { get; set; } = true;

        public Segment Reset(long baseOffset)
        {
            Base = baseOffset;
            Next = null;
            return this;
        }
    }
}

/// <summary>A reader's place in a <see cref="StreamLog"/>: the segment it reads from (moved only under the log's lock).</summary>
internal sealed class StreamCursor(StreamLog.Segment segment, AsyncSignal? signal)
{
    public StreamLog.Segment Segment { get; set; } = segment;

    public AsyncSignal? Signal { get; } = signal;
}
