using System.Diagnostics;

namespace EventBus;

/// <summary>
/// The append-only log of one topic: dense offsets from 0, kept in the stream's storage (<see cref="IStreamStorage"/>). The log
/// numbers the events, publishes the head to lock-free readers, decides retention, and holds publishers back for its consumer groups.
/// </summary>
/// <remarks>
/// <para>Concurrency: every write (append, trim, group and cursor registration) happens under the topic's lock. Readers read through
/// their cursor's storage reader without it; an entry below the published <see cref="Head"/> never changes.</para>
/// <para>Retention: <see cref="Start"/> is the first retained offset. With <see cref="StreamOptions.MaxCount"/> it follows the
/// head exactly; with <see cref="StreamOptions.MaxAge"/> it moves past expired events on append and on a timer due when the
/// oldest event expires; with neither, it moves (every <see cref="HistoryStep"/> events) to the lowest offset that the default
/// history (<see cref="StreamOptions.DefaultHistory"/>) or a group still needs. A group counts from when it joins: a group
/// registered with the builder joins when the bus is built.</para>
/// </remarks>
[DebuggerDisplay("{Topic.Name,nq}: [{Start}, {Head})")]
internal sealed partial class StreamLog
{
    /// <summary>How often, in events, a log without a retention option moves its start to what it still needs.</summary>
    public const int HistoryStep = 512;

    private readonly Lock _lock;
    private readonly StreamOptions _options;
    private readonly TimeProvider _time;
    private readonly IStreamStorage _storage;
    private readonly Dictionary<string, StoppedGroup> _stoppedGroups = [];
    private long _head; // published to lock-free readers by Publish
    private long _next; // the writers' head, under the lock (equal to _head outside an append)
    private long _start;
    private StreamConsumer[] _groups = [];
    private StreamConsumer.RoomCache[] _rooms = []; // the groups' room caches, in the same order: a publish checks room without touching a group
    private StreamCursor[] _cursors = [];
    private AsyncSignal[] _signals = []; // the cursors' signals: a publish wakes readers without touching a cursor
    private ITimer? _ageTimer;
    private bool _ageTimerArmed;
    private volatile bool _completed;

    public StreamLog(Topic topic, Lock topicLock, StreamOptions options, TimeProvider time, IStreamStorageFactory storage)
    {
        Topic = topic;
        _lock = topicLock;
        _options = options;
        _time = time;
        _storage = storage.Create(topic.Name, topicLock);
    }

    public Topic Topic { get; }

    public Lock Lock => _lock;

    /// <summary>Gets the offset the next appended event gets.</summary>
    public long Head => Volatile.Read(ref _head);

    /// <summary>Gets the first retained offset.</summary>
    public long Start => Volatile.Read(ref _start);

    public bool IsCompleted => _completed;

    public StreamConsumer[] Groups => Volatile.Read(ref _groups);

    /// <summary>Under the lock: a Wait group without room for <paramref name="count"/> more events, or null; throws for a full FailFast group.</summary>
    public StreamConsumer? FindFullGroup(int count)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Room checks happen under the topic lock.");
        StreamConsumer? blocked = null;
        var rooms = _rooms;
        for (var i = 0; i < rooms.Length; i++)
        {
            if (rooms[i].HasRoom(_next, count))
            {
                continue;
            }

            var group = _groups[i];
            if (group.FullPolicy == FullPolicy.FailFast)
            {
                throw new BufferFullException(Topic.Name, group.Name, group.Capacity, count);
            }

            blocked ??= group;
        }

        return blocked;
    }

    /// <summary>
    /// Under the lock: a group without room for <paramref name="count"/> more events, whatever its policy, or null. Never throws:
    /// for a write that must neither wait nor fail (a channel writer's <c>TryWrite</c>, and its wait for room).
    /// </summary>
    public StreamConsumer? FindGroupWithoutRoom(int count)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Room checks happen under the topic lock.");
        var rooms = _rooms;
        for (var i = 0; i < rooms.Length; i++)
        {
            if (!rooms[i].HasRoom(_next, count))
            {
                return _groups[i];
            }
        }

        return null;
    }

    /// <summary>Checks that a batch can ever fit every group's backlog.</summary>
    public void EnsureBatchFits(int count)
    {
        foreach (var group in Groups)
        {
            if (count > group.Capacity)
            {
                ThrowHelper.ThrowBatchTooLarge(Topic.Name, group.Name, group.Capacity, count);
            }
        }
    }

    /// <summary>Under the lock: appends one event and returns its offset. Call <see cref="Publish"/> after the last append.</summary>
    public long Append(object message, in MessageContext context)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Appends happen under the topic lock.");
        var offset = _next;
        _storage.Append(offset, new StreamRecord(message, context));
        _next = offset + 1;

        if (_options.MaxAge is not null)
        {
            OnAppendWithAge(context.TimestampTicks);
        }
        else if (_options.MaxCount is null && (offset & (HistoryStep - 1)) == 0 && offset > 0)
        {
            KeepDefaultHistory(offset);
        }

        return offset;
    }

    /// <summary>Under the lock, after appending: makes the new events visible and wakes the readers waiting for them.</summary>
    public void Publish(int count)
    {
        Volatile.Write(ref _head, _next);
        if (_options.MaxCount is { } maxCount && _next - maxCount > _start)
        {
            MoveStart(_next - maxCount); // after the head: readers never see the start beyond it
        }

        // The full fence orders the head's write before the reads of the waiting flags (see AsyncSignal).
        Interlocked.MemoryBarrier();
        if (Topic.Pending is not null)
        {
            foreach (var group in _groups)
            {
                group.OnAppended(count);
            }
        }

        WakeReaders();
    }

    /// <summary>Stops accepting: readers that follow the head see the end once they caught up.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
            _ageTimer?.Dispose();
            _ageTimer = null;
            Interlocked.MemoryBarrier();
            WakeReaders();
        }
    }

    /// <summary>Reads the entry at <paramref name="offset"/> (below the head). Returns false when retention trimmed it.</summary>
    public bool TryRead(StreamCursor cursor, long offset, out StreamEntry entry)
    {
        if (offset < Start)
        {
            entry = default;
            return false;
        }

        return TryReadInRun(cursor, offset, out entry);
    }

    /// <summary>
    /// Reads the entry at <paramref name="offset"/> (below the head) for a reader that checked <see cref="Start"/> at the beginning
    /// of its run of reads: the storage decides without a further check (it may still return an entry retention trimmed meanwhile,
    /// and delivering it loses nothing). Returns false when retention trimmed it.
    /// </summary>
    public bool TryReadInRun(StreamCursor cursor, long offset, out StreamEntry entry)
    {
        Debug.Assert(offset < Head, "Only published offsets are read.");
        var read = cursor.Reader.TryRead(offset, out var record);
        entry = new StreamEntry(record, offset);
        return read;
    }

    /// <summary>Registers a cursor (a group's reader, or a replay reader) positioned for <paramref name="offset"/>.</summary>
    public StreamCursor OpenCursor(long offset, AsyncSignal? signal)
    {
        lock (_lock)
        {
            var cursor = new StreamCursor(_storage.OpenReader(Math.Max(offset, _start)), signal);
            SetCursors([.. _cursors, cursor]);
            return cursor;
        }
    }

    public void CloseCursor(StreamCursor cursor)
    {
        lock (_lock)
        {
            SetCursors(Array.FindAll(_cursors, c => c != cursor));
            cursor.Reader.Close();
        }
    }

    /// <summary>Under the lock: resolves a position to the offset of the first event to read.</summary>
    public long Resolve(StreamPosition position)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Positions are resolved under the topic lock.");
        return position.Kind switch
        {
            StreamPositionKind.First => _start,
            StreamPositionKind.Last => Math.Max(_start, _next - 1),
            StreamPositionKind.Offset => Math.Clamp(position.Offset, _start, _next),
            StreamPositionKind.Timestamp => _storage.FindTimestamp(_start, _next, position.Timestamp.UtcTicks),
            _ => _next,
        };
    }

    /// <summary>Under the lock: adds a running group; it counts for room checks and retention from now on.</summary>
    public void AddGroup(StreamConsumer group)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Groups are added under the topic lock.");
        _stoppedGroups.Remove(group.Name);
        SetGroups([.. _groups, group]);
    }

    /// <summary>A group stopped: it no longer holds publishers back, but its events stay (up to its capacity) for when it resumes.</summary>
    public void RemoveGroup(StreamConsumer group, long committed)
    {
        lock (_lock)
        {
            SetGroups(Array.FindAll(_groups, g => g != group));
            _stoppedGroups[group.Name] = new StoppedGroup(committed, group.Capacity, group.Mode, group.Workers, group.FullPolicy);
        }
    }

    /// <summary>
    /// Under the lock: records the committed offset of a group that is not running (a seek of a stopped group). A group that has not
    /// run in this process is described with <paramref name="defaults"/>: the options of a group started without any.
    /// </summary>
    public void SetStoppedGroup(string name, long committed, StoppedGroup defaults) =>
        _stoppedGroups[name] = (_stoppedGroups.TryGetValue(name, out var known) ? known : defaults) with { Committed = committed };

    /// <summary>Under the lock: whether a group of that name is running.</summary>
    public StreamConsumer? FindGroup(string name) => Array.Find(Groups, g => g.Name == name);

    /// <summary>Describes the stream and its groups.</summary>
    public StreamInfo Describe()
    {
        lock (_lock)
        {
            var groups = _groups.Select(g => g.GetSnapshot())
                .Concat(_stoppedGroups.Select(s => s.Value.Describe(Topic.Name, s.Key, _next)))
                .OrderBy(g => g.Subscription, StringComparer.Ordinal)
                .ToList();
            return new StreamInfo(Topic.Name, _start, _next, groups);
        }
    }

    /// <summary>Wakes the readers waiting for events (after a full fence that orders what they wait for before their flags).</summary>
    private void WakeReaders()
    {
        foreach (var signal in _signals)
        {
            signal.Wake();
        }
    }

    /// <summary>Under the lock: replaces the running groups, and the room caches that publishes check.</summary>
    private void SetGroups(StreamConsumer[] groups)
    {
        _rooms = Array.ConvertAll(groups, static g => g.Room);
        Volatile.Write(ref _groups, groups);
    }

    /// <summary>Under the lock: replaces the cursors, and the signals that publishes wake.</summary>
    private void SetCursors(StreamCursor[] cursors)
    {
        _cursors = cursors;
        _signals = [.. cursors.Where(static c => c.Signal is not null).Select(static c => c.Signal!)];
    }

    /// <summary>A group that is not running: where it will resume, and the options it ran with.</summary>
    public readonly record struct StoppedGroup(long Committed, int Capacity, DeliveryMode Mode, int Workers, FullPolicy FullPolicy)
    {
        /// <summary>Its snapshot: its offsets and options; its counters, skips and dead letters went with the group that ran.</summary>
        public SubscriptionSnapshot Describe(string topic, string name, long head) =>
            new(topic, name, Mode, Workers, Capacity, FullPolicy, (int)Math.Clamp(head - Committed, 0, int.MaxValue), InFlight: 0,
                Delivered: 0, Succeeded: 0, Failed: 0, Dropped: 0, Retried: 0, DeadLettered: 0, ScheduledRedeliveries: 0, DeadLetters: 0, SubscriptionState.Stopped)
            {
                CommittedOffset = Committed,
                Position = Committed,
                NextOffset = head,
            };
    }
}

/// <summary>A reader's place in a <see cref="StreamLog"/>: its storage reader, and the signal a publish wakes.</summary>
internal sealed class StreamCursor(IStreamStorageReader reader, AsyncSignal? signal)
{
    public IStreamStorageReader Reader { get; } = reader;

    public AsyncSignal? Signal { get; } = signal;
}
