using System.Diagnostics;

namespace EventBus;

/// <summary>The resolved options of one consumer group.</summary>
internal sealed record ConsumerGroupSettings(
    StreamPosition StartPosition,
    OffsetResetPolicy ResetPolicy,
    AckMode AckMode,
    int CommitEvery,
    TimeSpan? CommitInterval,
    int Workers,
    int Capacity,
    FullPolicy FullPolicy,
    RedeliveryOptions Redelivery,
    TimeSpan? HandlerTimeout,
    bool StopOnFailure,
    int DeadLetterCapacity);

/// <summary>
/// A consumer group reading a <see cref="StreamLog"/>: one worker reading in offset order (exclusive), or a dispatcher handing events
/// to N workers by partition key (key-ordered). It commits the offset of the next event to process, to its offset store.
/// </summary>
/// <remarks>
/// <para>Offsets: <see cref="_position"/> is the next offset to read (written by the reading worker); <see cref="_committed"/> the next
/// to process after a restart (publishers read it for room checks, the log for retention). Exclusive: committed follows the
/// position after each handled event (or every N / T). Key-ordered: committed is the lowest offset not yet completed.</para>
/// <para>Pending-message accounting for the test harness: every appended event enters once per running group and leaves when the
/// group completes it, skips it, or stops before it.</para>
/// </remarks>
[DebuggerDisplay("{Name,nq} on {Topic,nq}: committed {Committed}, position {Position}")]
internal sealed partial class StreamConsumer : IStreamSubscription, IStreamCommitter, IBackpressured
{
    private readonly IStreamGroupOwner _owner;
    private readonly DeliveryEnvironment _env;
    private readonly StreamLog _log;
    private readonly DeliveryPipeline _pipeline;
    private readonly ConsumerGroupSettings _settings;
    private IStreamOffsetStore? _store; // set by PrepareAsync, before the workers start
    private InMemoryStreamOffsetStore.OffsetSlot? _slot;
    private readonly AsyncSignal _signal = new();
    private readonly DeliveryWorker[] _workers;
    private readonly PendingTracker? _pending;
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private StreamCursor? _cursor;
    private Task? _task;
    private long _position;
    private long _committed;
    private long _stored = -1;
    private long _skipped;
    private long _pendingCount;
    private long _lastCommitTimestamp;
    private volatile bool _storeDirty;
    private volatile bool _stopRequested;
    private volatile bool _abandoned;
    private volatile Exception? _fault;
    private bool _reserved; // joined the stream when the bus was built; PrepareAsync finds where it starts
    private SeekRequest? _seek;
    private RoomWaiter _roomWaiter;

    public StreamConsumer(IStreamGroupOwner owner, DeliveryEnvironment env, StreamLog log, string name, HandlerInvoker invoker, ConsumerGroupSettings settings)
    {
        _owner = owner;
        _env = env;
        _log = log;
        Topic = log.Topic.Name; // kept here: the log's own fields share cache lines with the head the publisher writes
        Name = name;
        _settings = settings;
        _pending = env.Pending;

        // A group keeps its order: a failed event is attempted again in place. At-most-once commits before the handler runs.
        _pipeline = new DeliveryPipeline(env, invoker, new DeliverySettings(settings.HandlerTimeout, settings.Redelivery, settings.AckMode == AckMode.BeforeHandling, RedeliverInPlace: true), Topic, name, settings.DeadLetterCapacity);
        _workers = new DeliveryWorker[settings.Workers];
        for (var i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new DeliveryWorker(committer: this);
        }

        Room = new RoomCache(this);
        if (settings.Workers > 1)
        {
            InitializeKeyOrdered();
        }
    }

    public string Name { get; }

    public string Topic { get; }

    public string Group => Name;

    public int Capacity => _settings.Capacity;

    public int Workers => _workers.Length;

    public FullPolicy FullPolicy => _settings.FullPolicy;

    public long Committed => Volatile.Read(ref _committed);

    public long Position => Volatile.Read(ref _position);

    public DeadLetterStore DeadLetters => _pipeline.DeadLetters;

    public KeyValuePair<string, object?> GroupTag => _pipeline.ConsumerTag;

    public Task Completion => _completion.Task;

    /// <summary>Gets a task that completes (never faults) when the workers stopped.</summary>
    public Task Stopped => _task ?? Task.CompletedTask;

    public bool IsStarted => _task is not null;

    private EventBusMetrics Metrics => _env.Metrics;

    public bool HasRoom(long head, int count) => head + count - Volatile.Read(ref _committed) <= _settings.Capacity;

    /// <summary>Gets the publishers' view of the group's backlog limit (read and written under the topic's lock).</summary>
    public RoomCache Room { get; }

    /// <summary>Gets a value indicating whether the group joined its stream when the bus was built and has not started yet.</summary>
    public bool IsReserved => Volatile.Read(ref _reserved);

    /// <summary>
    /// Joins the stream when the bus is built, before anything is published (a group registered with the builder): from the first
    /// publish it holds publishers back by its backlog, and retention keeps every event it has not read, as a running group's.
    /// <see cref="PrepareAsync"/> finds where it starts when the bus starts.
    /// </summary>
    public void Reserve()
    {
        lock (_log.Lock)
        {
            Debug.Assert(_log.FindGroup(Name) is null, "A registered group's name is used once per stream.");
            var head = _log.Head;
            _committed = head;
            MoveTo(head);
            _log.AddGroup(this);
            _reserved = true;
        }
    }

    /// <summary>
    /// Loads the committed offset, resolves where to start, and joins the stream (unless it joined when the bus was built): from
    /// here on the group holds publishers back and retention keeps what it needs. Its workers start with <see cref="Start"/>.
    /// </summary>
    /// <remarks>
    /// A committed offset (stored, or for a group that joined when the bus was built, the place where it joined) is where the group
    /// goes on when the stream still holds it. One below the oldest retained event (retention trimmed what the group had not read)
    /// or beyond the head (an offset store that outlived its stream) is out of range, and the group's
    /// <see cref="ConsumerGroupOptions.ResetPolicy"/> decides; trimmed events it passes over are reported as skipped. With no
    /// committed offset, <see cref="ConsumerGroupOptions.StartPosition"/> is resolved now.
    /// </remarks>
    public async ValueTask PrepareAsync(IStreamOffsetStore store, CancellationToken cancellationToken)
    {
        var slot = (store as InMemoryStreamOffsetStore)?.GetSlot(Topic, Name);
        var stored = slot is not null ? slot.Read() : await store.LoadAsync(Topic, Name, cancellationToken).ConfigureAwait(false);
        (long From, long Count)? skipped = null;
        long position;
        lock (_log.Lock)
        {
            if (_log.IsCompleted)
            {
                ThrowHelper.ThrowStopped();
            }

            var reserved = _reserved;
            if (!reserved && _log.FindGroup(Name) is { } other)
            {
                throw new InvalidOperationException(other.IsReserved
                    ? $"Consumer group '{Name}' is registered on stream '{Topic}' with AddStreamGroup and starts with the bus; a group name is used once per stream."
                    : $"Consumer group '{Name}' is already running on stream '{Topic}'; dispose its subscription before starting it again.");
            }

            var start = _log.Start;
            var head = _log.Head;
            var joinedAt = _position;

            // A registered group's place in the stream counts as committed, unless its start position names an offset or a time.
            var committed = stored ?? (reserved && _settings.StartPosition.Kind is not (StreamPositionKind.Offset or StreamPositionKind.Timestamp) ? joinedAt : null);
            if (committed is not { } from)
            {
                position = _log.Resolve(_settings.StartPosition);
            }
            else if (from >= start && from <= head)
            {
                position = from;
            }
            else
            {
                if (_settings.ResetPolicy == OffsetResetPolicy.Fail)
                {
                    // The group does not start; its committed offset stays what it was (the stream lists it as stopped there).
                    _committed = from;
                    throw OutOfRange(from, start, head, stored is null);
                }

                position = _settings.ResetPolicy == OffsetResetPolicy.Earliest ? start : head;

                if (from < start)
                {
                    skipped = (from, position - from);
                }
                else
                {
                    Log.CommittedOffsetBeyondHead(_env.Logger, Name, Topic, from, head, _settings.ResetPolicy, position);
                }
            }

            if (position < _committed)
            {
                Room.Invalidate(); // publishers read the group's backlog again
            }

            // The group counts as pending every event from its position to the head (a registered group already counts those
            // appended since it joined).
            var pendingNow = reserved ? head - joinedAt : 0;
            _committed = position;
            MoveTo(position);
            _cursor = _log.OpenCursor(position, _signal);
            if (!reserved)
            {
                _log.AddGroup(this);
            }

            if (head - position > pendingNow)
            {
                EnterPending(head - position - pendingNow);
            }
            else
            {
                LeavePending(pendingNow - (head - position));
            }

            _store = store;
            _slot = slot;
            _reserved = false;
        }

        if (skipped is { } skip)
        {
            ReportSkipped(skip.From, skip.Count, stored is null
                ? $"retention trimmed them after the group joined the stream and before it started; reset policy {_settings.ResetPolicy}"
                : $"the committed offset was trimmed by retention; reset policy {_settings.ResetPolicy}", leavePending: false);
        }

        if (stored != position)
        {
            await SaveAsync(position, cancellationToken).ConfigureAwait(false);
        }
    }

    private StreamOffsetOutOfRangeException OutOfRange(long committed, long start, long head, bool joined) => new(committed < start
        ? (joined
            ? $"Consumer group '{Name}' joined stream '{Topic}' at offset {committed} when the bus was built, but before it started the stream's retention trimmed it to offsets {start} to {head - 1}. Its reset policy is Fail; set ConsumerGroupOptions.ResetPolicy to Earliest or Latest to continue, or loosen the stream's retention."
            : $"Consumer group '{Name}' committed offset {committed} on stream '{Topic}', but the stream retains offsets {start} to {head - 1} only: the events in between were trimmed by retention. Its reset policy is Fail; set ConsumerGroupOptions.ResetPolicy to Earliest or Latest to continue, or seek the group with IEventStreams.SeekAsync.")
        : $"Consumer group '{Name}' committed offset {committed} on stream '{Topic}', beyond the stream's head ({head}): its offset store holds a position this stream never reached (a store kept longer than the stream, or shared with another). Its reset policy is Fail; set ConsumerGroupOptions.ResetPolicy to Earliest or Latest to continue, or seek the group with IEventStreams.SeekAsync.");

    /// <summary>Starts the workers (after <see cref="PrepareAsync"/>).</summary>
    public void Start()
    {
        Debug.Assert(_cursor is not null && _task is null, "A group is prepared, then started once.");
        using (ExecutionContext.SuppressFlow())
        {
            _task = Task.Run(RunAsync);
        }
    }

    /// <summary>Gets the state of the group's workers: a group that stopped on a failure or an error is faulted.</summary>
    public SubscriptionState State => _completion.Task.Status switch
    {
        TaskStatus.RanToCompletion => SubscriptionState.Stopped,
        TaskStatus.Faulted or TaskStatus.Canceled => SubscriptionState.Faulted,
        _ => _task is null ? SubscriptionState.NotStarted : SubscriptionState.Running,
    };

    /// <summary>Gets the group's mode in the subscriptions' vocabulary: one worker reads in offset order; more are key-ordered.</summary>
    public DeliveryMode Mode => _workers.Length > 1 ? DeliveryMode.KeyOrdered : DeliveryMode.Broadcast;

    public SubscriptionSnapshot GetSnapshot()
    {
        // The head is read last: it only grows, so a lag or a depth taken against it does not go negative from an older head.
        var committed = Committed;
        var position = Position;
        var head = _log.Head;
        var state = State;
        var counts = default(DeliveryCounts);
        var inFlight = 0;
        foreach (var worker in _workers)
        {
            var workerCounts = worker.Read();
            counts += workerCounts;

            // A worker handles one event at a time. A delivery the stop cut short is never settled, so a group that is not
            // running counts none in flight.
            if (state == SubscriptionState.Running && workerCounts.HoldsOne)
            {
                inFlight++;
            }
        }

        // One worker keeps the event in hand at its position until it is handled; key-ordered, the position moves when the
        // dispatcher hands an event to a worker's queue. Either way an event whose redelivery waits for its delay counts here.
        var depth = _queues is null ? Math.Max(0, head - position - inFlight) : Math.Max(0, head - position) + QueuedCount(counts.Attempts - counts.Retried);
        return new SubscriptionSnapshot(Topic, Name, Mode, Workers, Capacity, FullPolicy, (int)Math.Min(depth, int.MaxValue), inFlight,
            counts.Attempts, counts.Succeeded, counts.Failed, Dropped: 0, counts.Retried, counts.DeadLettered, ScheduledRedeliveries: 0, DeadLetters.Count, state)
        {
            CommittedOffset = committed,
            Position = position,
            NextOffset = head,
            Skipped = Interlocked.Read(ref _skipped),
        };
    }

    /// <summary>Stops the group: the event in hand is finished, what it handled is committed, and the group leaves the stream.</summary>
    public async ValueTask DisposeAsync()
    {
        _stopRequested = true;
        Leave(_workers);
        Interlocked.MemoryBarrier();
        _signal.Wake(); // (key-ordered workers see the stop when the reader, leaving, completes their queues)
        if (_task is null)
        {
            // Joined or prepared but never started (the bus did not start): leave the stream, once.
            if (!_completion.Task.IsCompleted)
            {
                Leave();
            }

            return;
        }

        await _task.ConfigureAwait(false);
    }

    /// <summary>After the stop timeout of the bus: finish the event in hand and take no more.</summary>
    public void StopTaking()
    {
        _abandoned = true;
        Leave(_workers);
        Interlocked.MemoryBarrier();
        _signal.Wake();
    }

    /// <summary>The group is stopping: a failed event in hand is not attempted again (it stays uncommitted).</summary>
    private static void Leave(DeliveryWorker[] workers)
    {
        foreach (var worker in workers)
        {
            worker.Leaving = true;
        }
    }

    /// <summary>Waits until <paramref name="count"/> more events fit the group's backlog, the bus or the group stops, or <paramref name="cancellationToken"/> fires.</summary>
    /// <remarks>The fence that <see cref="RoomWaiter"/> needs is not in a commit (one per event would cost the hot path) but before the group goes idle: see <see cref="IdleAsync"/>.</remarks>
    public Task WaitForRoomAsync(int count, CancellationToken cancellationToken) =>
        _roomWaiter.WaitAsync(this, count, static (group, wanted) => group.HasRoom(group._log.Head, wanted) || group._log.IsCompleted || group._completion.Task.IsCompleted, cancellationToken);

    public bool IsCurrentWorker() => ReferenceEquals(CurrentWorker.Owner, this);

    /// <summary>Called by the log after an append, under its lock, for every running group.</summary>
    public void OnAppended(int count) => EnterPending(count);

    private async Task RunAsync()
    {
        CurrentWorker.Owner = this;
        try
        {
            if (_workers.Length == 1)
            {
                await ReadAsync(_workers[0]).ConfigureAwait(false);
            }
            else
            {
                await RunKeyOrderedAsync().ConfigureAwait(false);
            }

            FlushCommit();
            if (_storeDirty)
            {
                await FlushStoreAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e)
        {
            _fault ??= e;
        }
        finally
        {
            Leave();
        }
    }

    /// <summary>How many times a group that caught up yields its thread (and re-checks the head) before it parks.</summary>
    /// <remarks>Two: a group that finds the next event after a yield spares its park and the publisher's wake; more yields measure no better (docs/benchmarks.md).</remarks>
    private const int YieldsBeforeIdle = 2;

    /// <summary>
    /// The group's reading loop: with one worker (<paramref name="worker"/>) it handles every event in offset order itself; with
    /// key-ordered workers (<paramref name="worker"/> null) it hands each event to the worker of its key.
    /// </summary>
    /// <remarks>
    /// Reads in runs: the head and the retained start are read once per run, and a run ends early when a handler completes
    /// asynchronously (time passed: retention may have moved) or when a stop, a seek or a fault asks for attention. Going idle
    /// awaits the group's signal here, in this loop's state machine, which lives as long as the group: waiting allocates nothing.
    /// Before it parks, a group that caught up yields <see cref="YieldsBeforeIdle"/> times (the same state machine is queued).
    /// </remarks>
    private async Task ReadAsync(DeliveryWorker? worker)
    {
        var cursor = _cursor!;
        var yields = 0; // since the group last read an event
        while (!_stopRequested && !_abandoned && _fault is null)
        {
            if (Volatile.Read(ref _seek) is not null)
            {
                await ApplySeekAsync().ConfigureAwait(false);
                continue;
            }

            var position = _position;
            var head = _log.Head;
            if (!CanRead(position, head))
            {
                // Caught up (or the key-ordered window is full): commit what was handled, so that publishers held back by the
                // backlog go on, then wait.
                FlushCommit();
                if (_storeDirty)
                {
                    await FlushStoreAsync().ConfigureAwait(false);
                }

                // Stay awake through a short gap first: a publisher mid-burst usually appends again while the group's turn
                // goes round the thread pool, and a park costs the publisher a wake and the group a dispatch.
                if (yields < YieldsBeforeIdle)
                {
                    yields++;
                    await Task.Yield();
                    continue;
                }

                await IdleAsync().ConfigureAwait(false);

                if (IsDrained())
                {
                    return;
                }

                continue;
            }

            if (position < _log.Start)
            {
                if (HasInFlight())
                {
                    await WaitForCompletionsAsync().ConfigureAwait(false); // jump only once what was handed out is completed
                }
                else
                {
                    SkipTrimmed(position);
                }

                continue;
            }

            yields = 0;
            while (CanRead(position, head))
            {
                if (!_log.TryReadInRun(cursor, position, out var entry))
                {
                    break; // trimmed since the run began: the outer loop reports the skip
                }

                var synchronous = true;
                if (worker is null)
                {
                    Dispatch(entry, position);
                }
                else
                {
                    if (_settings.AckMode == AckMode.BeforeHandling)
                    {
                        CommitCore(position + 1);
                    }

                    var handled = ProcessAsync(worker, entry);
                    synchronous = handled.IsCompletedSuccessfully;
                    if (!(synchronous ? handled.Result : await handled.ConfigureAwait(false)))
                    {
                        return; // the group stops on this event (failure policy Stop, or the bus abandoned it)
                    }

                    Volatile.Write(ref _position, position + 1);
                    if (_settings.AckMode == AckMode.AfterHandling && ShouldCommit(position + 1))
                    {
                        CommitCore(position + 1);
                    }

                    LeavePending(1); // after the commit: whoever waits for the bus to be idle sees it committed
                }

                position++;
                if (_storeDirty)
                {
                    await FlushStoreAsync().ConfigureAwait(false);
                }

                if (!synchronous || _stopRequested || _abandoned || _fault is not null || Volatile.Read(ref _seek) is not null)
                {
                    break;
                }
            }
        }
    }

    /// <summary>The group's position was trimmed by retention: report the skipped events and continue from the oldest retained one.</summary>
    private void SkipTrimmed(long position)
    {
        var start = _log.Start;
        ReportSkipped(position, start - position, "trimmed by retention before the group read them", leavePending: true);
        MoveTo(start);
        if (_committed < start)
        {
            CommitCore(start);
        }
    }

    /// <summary>
    /// Caught up: announces the wait and returns it (completed at once when there is work after all). The caller awaits it in its
    /// own loop, whose state machine lives as long as the worker, so going idle allocates nothing.
    /// </summary>
    private ValueTask<bool> IdleAsync()
    {
        _signal.BeginWait();

        // A commit writes the offset, then reads the room waiter; a publisher publishes its waiter, then reads the offset. Without
        // a full fence between the commit's write and read, both can miss the other, and the publisher would wait for the group's
        // next commit. Here, after the fence of BeginWait, the group sees that waiter before it goes idle.
        _roomWaiter.Wake();
        return _signal.WaitUnless(HasWork() || _log.IsCompleted);
    }

    /// <summary>Whether the group is done: the stream is completed (the bus stops) and everything published was read.</summary>
    private bool IsDrained() => _log.IsCompleted && Volatile.Read(ref _seek) is null && _position >= _log.Head;

    private bool HasWork() => CanRead(_position, _log.Head) || _stopRequested || _abandoned || _fault is not null || Volatile.Read(ref _seek) is not null;

    private void ReportSkipped(long from, long count, string reason, bool leavePending)
    {
        if (count <= 0)
        {
            return;
        }

        Interlocked.Add(ref _skipped, count);
        if (leavePending)
        {
            LeavePending(count);
        }

        if (Metrics.Skipped.Enabled)
        {
            Metrics.Skipped.Add(count, EventBusMetrics.System, _log.Topic.TopicTag, GroupTag);
        }

        Log.StreamEventsSkipped(_env.Logger, Name, Topic, count, from, reason);

        // Observers run outside the bus's locks: a start reports its skip once it released the log's lock, the reading loop holds none.
        Debug.Assert(!_log.Lock.IsHeldByCurrentThread, "Observers are called outside the log's lock.");
        if (_env.Observers.Any)
        {
            _env.Observers.StreamEventsSkipped(Topic, Name, from, count, reason);
        }
    }

    /// <summary>Leaves the stream once the workers stopped: no longer held for, no longer holding publishers back.</summary>
    private void Leave()
    {
        _log.RemoveGroup(this, Committed);
        if (_cursor is not null)
        {
            _log.CloseCursor(_cursor);
        }

        LeavePending(Interlocked.Read(ref _pendingCount));
        _roomWaiter.Wake();
        Interlocked.Exchange(ref _seek, null)?.Done.TrySetException(new InvalidOperationException($"Consumer group '{Name}' on stream '{Topic}' stopped before the seek was applied."));
        _owner.OnGroupStopped(this);
        if (_fault is { } fault)
        {
            _completion.TrySetException(fault);
        }
        else
        {
            _completion.TrySetResult();
        }
    }

    private void EnterPending(long count)
    {
        if (_pending is not null && count > 0)
        {
            Interlocked.Add(ref _pendingCount, count);
            _pending.Enter(count);
        }
    }

    private void LeavePending(long count)
    {
        if (_pending is not null && count > 0)
        {
            Interlocked.Add(ref _pendingCount, -count);
            _pending.Leave(count);
        }
    }
}
