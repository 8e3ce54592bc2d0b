using System.Diagnostics;

namespace EventBus;

/// <summary>The resolved options of one subscription.</summary>
internal sealed record SubscriptionSettings(
    DeliveryMode Mode,
    int Workers,
    int Capacity,
    FullPolicy FullPolicy,
    RedeliveryOptions Redelivery,
    TimeSpan? HandlerTimeout,
    AckMode AckMode,
    int DeadLetterCapacity);

/// <summary>
/// One handler's view of one topic: a bounded buffer, the workers that drain it into the handler, its delayed redeliveries and
/// its dead letters.
/// </summary>
/// <remarks>
/// <para>A key-ordered subscription (<see cref="DeliveryMode.KeyOrdered"/>) has one buffer per worker, its lanes
/// (<see cref="KeyedLanes"/>): the write puts each envelope in the lane of its partition key, and each worker reads its own lane
/// through the same loop and the same delivery code as any other worker.</para>
/// <para>The buffer (<see cref="EnvelopeBuffer"/>: a ring of struct <see cref="Envelope"/>s written in place) is bounded by
/// <see cref="_buffered"/>: the topic checks room and writes under its own lock (so every subscription of a topic sees the same
/// order and a batch is all-or-nothing), the workers read. Keeping the count ourselves lets the topic check room for a whole
/// batch at once, and lets a drop-oldest publish take the oldest message itself.</para>
/// <para>Invariant: a publish adds to <see cref="_buffered"/> + <see cref="_scheduled"/> only when it stays within <see cref="Capacity"/>:
/// an add is counted before an envelope is written and a take after one is read, and a message scheduled for a delayed
/// redelivery holds a place (in <see cref="_scheduled"/>, then back in <see cref="_buffered"/>), so failures that wait for a retry
/// hold back publishers instead of growing memory. Scheduling happens outside the topic's lock (and publishers check against a
/// cached limit, which a schedule invalidates), so the sum can exceed the capacity by at most the messages in flight (one per
/// worker) at the moment they are rescheduled.</para>
/// </remarks>
[DebuggerDisplay("{Name,nq} on {Topic.Name,nq}: {Mode} x{Workers}, {Depth}/{Capacity} buffered")]
internal sealed partial class Subscription : IBackpressured
{
    private readonly EnvelopeBuffer _buffer; // a key-ordered subscription's first lane, written and drained through _lanes
    private readonly KeyedLanes? _lanes;
    private readonly HandlerInvoker _invoker;
    private readonly DeliveryEnvironment _env;
    private readonly DeliveryPipeline _pipeline;
    private readonly SubscriptionSettings _settings;
    private readonly WorkerState[] _workers;
    private readonly HashSet<ScheduledRedelivery> _scheduledItems = [];
    private readonly EventBusMetrics _metrics;
    private readonly IdleWorkers? _idle;
    private readonly PendingTracker? _pending;
    private Task[]? _workerTasks;
    private readonly BufferCount _buffered = new();
    private int _scheduled;
    private long _dropped;
    private volatile bool _abandoned;

    // Publishers waiting for room share one completion source; any dequeue completes it and they re-check.
    private RoomWaiter _roomWaiter;

    public Subscription(DeliveryEnvironment env, Topic topic, Type handlerType, HandlerInvoker invoker, SubscriptionSettings settings, string? name = null)
    {
        HandlerType = handlerType;
        name ??= MessageTypes.GetKey(handlerType);
        _env = env;
        Topic = topic;
        Name = name;
        _invoker = invoker;
        _settings = settings;
        _metrics = env.Metrics;
        _pending = env.Pending;

        // A queue's worker moves on while a delayed redelivery waits on a timer; broadcast and key-ordered workers wait in place
        // to keep their order, and a batch is redelivered as a whole, in place.
        var inPlace = settings.Mode != DeliveryMode.Queue || invoker is BatchHandlerInvoker;
        _pipeline = new DeliveryPipeline(env, invoker, new DeliverySettings(settings.HandlerTimeout, settings.Redelivery, settings.AckMode == AckMode.BeforeHandling, inPlace), topic.Name, name, settings.DeadLetterCapacity);
        _workers = new WorkerState[settings.Workers];
        for (var i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new WorkerState();
        }

        if (settings.Mode == DeliveryMode.KeyOrdered)
        {
            Debug.Assert(invoker is not BatchHandlerInvoker && settings.FullPolicy != FullPolicy.DropOldest, "Start-up validation refuses these with key-ordered delivery.");
            _lanes = new KeyedLanes(settings.Workers, settings.Capacity);
            _buffer = _lanes[0];
        }
        else
        {
            _buffer = EnvelopeBuffer.Create(settings, channel: invoker is BatchHandlerInvoker or PullInvoker);
            _idle = settings.Workers > 1 ? new IdleWorkers(_buffer) : null;
        }
    }

    public Topic Topic { get; }

    public Type HandlerType { get; }

    public string Name { get; }

    public DeliveryMode Mode => _settings.Mode;

    public int Workers => _settings.Workers;

    public int Capacity => _settings.Capacity;

    public FullPolicy FullPolicy => _settings.FullPolicy;

    public int Depth => _buffered.Count;

    public int InFlight => _workers.Count(static w => Volatile.Read(ref w.Busy) == 1);

    public KeyValuePair<string, object?> TopicTag => _pipeline.TopicTag;

    public KeyValuePair<string, object?> SubscriptionTag => _pipeline.ConsumerTag;

    public DeadLetterStore DeadLetters => _pipeline.DeadLetters;

    /// <summary>Gets a task that completes when every worker has exited.</summary>
    public Task Completion => _workerTasks is { } tasks ? Task.WhenAll(tasks) : Task.CompletedTask;

    public bool IsCurrentWorker() => _lanes is null
        ? Workers == 1 && ReferenceEquals(CurrentWorker.Owner, this)
        : CurrentWorker.Owner is EnvelopeRing lane && IsBlockedByOwnLane(lane);

    public bool HasRoom(int count) => _buffered.HasRoom(count, Capacity, ref _scheduled);

    public void Start()
    {
        Debug.Assert(_workerTasks is null, "A subscription is started once.");
        if (IsPull)
        {
            _workerTasks = [StartPull()];
            return;
        }

        var tasks = new Task[_workers.Length];

        // Workers must not inherit the starter's ExecutionContext (its AsyncLocals, its Activity).
        using (ExecutionContext.SuppressFlow())
        {
            for (var i = 0; i < tasks.Length; i++)
            {
                var worker = _workers[i];
                var reader = _lanes?[i] ?? _buffer;
                var batch = _invoker as BatchHandlerInvoker;
                tasks[i] = Task.Run(() => RunWorkerAsync(worker, reader, batch));
            }
        }

        _workerTasks = tasks;
    }

    /// <summary>
    /// Writes one envelope. Called under the topic's lock after the room check; applies the drop policies when full.
    /// A Wait or FailFast subscription never drops here: its room was checked by the topic, and if a worker scheduled a delayed
    /// redelivery since (outside the topic's lock, taking back a place for a message that was in flight), the write goes over
    /// the capacity by that message rather than losing one.
    /// </summary>
    public void Write(in Envelope envelope)
    {
        if (FullPolicy is FullPolicy.DropOldest or FullPolicy.DropNewest && !HasRoom(1))
        {
            if (FullPolicy == FullPolicy.DropNewest)
            {
                Drop(envelope, UndeliveredReason.DroppedNewest);
                return;
            }

            // A worker may take the oldest first: then there is room anyway.
            if (_buffer.TryRead(out var oldest))
            {
                _buffered.Take();
                Drop(oldest, UndeliveredReason.DroppedOldest);
            }
        }

        _pending?.Enter();
        if (!Append(envelope))
        {
            _pending?.Leave();
            Debug.Fail("The writer is completed only under the topic lock, after which the topic writes nothing.");
        }
    }

    /// <summary>
    /// Under the topic's lock, which every write to the buffer holds (so <see cref="BufferCount.Add"/> needs no atomic): counts
    /// one envelope and writes it. Returns false, with the count taken back, once the buffer is completed.
    /// </summary>
    private bool Append(in Envelope envelope)
    {
        Debug.Assert(Topic.SyncRoot.IsHeldByCurrentThread, "Every write to the buffer holds the topic's lock.");
        _buffered.Add();
        if (_lanes is null ? _buffer.TryWrite(envelope) : _lanes.TryWrite(envelope))
        {
            return true;
        }

        _buffered.Take();
        return false;
    }

    /// <summary>
    /// Whether a key-ordered worker whose lane is <paramref name="lane"/>, publishing from its handler, would wait for ever: the
    /// subscription is full and everything buffered is in that lane, which only this worker takes from. Under the topic's lock no
    /// write fills another lane, so lanes found empty stay empty while the room is read: no false alarm.
    /// </summary>
    private bool IsBlockedByOwnLane(EnvelopeRing lane)
    {
        lock (Topic.SyncRoot)
        {
            return _lanes!.OnlyThisLaneHasEntries(lane) && !HasRoom(1);
        }
    }

    /// <summary>Waits until <paramref name="count"/> messages fit, the bus stops, or <paramref name="cancellationToken"/> fires.</summary>
    /// <remarks>The fence that <see cref="RoomWaiter"/> needs: a worker counts a take (a full fence), then wakes the waiters.</remarks>
    public Task WaitForRoomAsync(int count, CancellationToken cancellationToken) =>
        _roomWaiter.WaitAsync(this, count, static (subscription, wanted) => subscription.HasRoom(wanted) || subscription.Topic.IsCompleted, cancellationToken);

    /// <summary>Stops accepting: completes the buffer (workers drain what is in it) and wakes publishers waiting for room.</summary>
    public void CompleteWriter()
    {
        if (_lanes is null)
        {
            _buffer.Complete();
        }
        else
        {
            _lanes.Complete();
        }

        _roomWaiter.Wake();
    }

    /// <summary>After the stop timeout, before handlers are cancelled: workers finish their current message and take no more.</summary>
    public void StopTaking()
    {
        _abandoned = true;
        _idle?.CloseAll();
        ReleasePull();
    }

    /// <summary>After the grace period: reports what is left in the buffer and what is still stuck in flight.</summary>
    public void CollectUnfinished(List<UndeliveredMessage> unfinished)
    {
        _abandoned = true;
        while (_lanes is null ? _buffer.TryRead(out var envelope) : _lanes.TryRead(out envelope))
        {
            _buffered.Take();
            unfinished.Add(Report(envelope.Message, envelope.Context.ForSubscription(Name), UndeliveredReason.NotStartedBeforeStop, null));
            _pending?.Leave();
        }

        foreach (var worker in _workers)
        {
            // Claim the in-flight delivery (busy 1 -> 2) so its worker, if it ever returns, does not report it again.
            if (Interlocked.CompareExchange(ref worker.Busy, 2, 1) == 1)
            {
                foreach (var envelope in worker.CurrentBatch ?? [worker.Current])
                {
                    unfinished.Add(Report(envelope.Message, envelope.Context.ForSubscription(Name), UndeliveredReason.CancelledByStop, null));
                    _pending?.Leave();
                }
            }
        }
    }

    /// <summary>
    /// A worker's loop: wait for work, then drain <paramref name="reader"/> (the subscription's buffer, or a key-ordered worker's
    /// own lane) into the handler (one message at a time, or in batches). The idle protocol of competing workers
    /// (<see cref="IdleWorkers"/>) is inlined so that its awaits run in this loop's state machine, which lives as long as the
    /// worker: going idle and waking up allocate nothing.
    /// </summary>
    private async Task RunWorkerAsync(WorkerState worker, EnvelopeBuffer reader, BatchHandlerInvoker? batchInvoker)
    {
        // Lets a publish from inside this handler see that it would wait on its own buffer (see Topic.PublishSlowAsync); a
        // key-ordered worker is known by its lane, the one buffer only it drains.
        CurrentWorker.Owner = _lanes is null ? this : reader;
        var batch = batchInvoker is null ? null : new List<Envelope>(Math.Min(batchInvoker.MaxBatchSize, 1024));
        while (true)
        {
            bool more;
            if (_idle is null)
            {
                more = await reader.WaitToReadAsync().ConfigureAwait(false);
            }
            else
            {
                if (!_idle.BeginWait(worker.Parking, out var lead) || (!lead && !await worker.Parking.WaitAsync().ConfigureAwait(false)))
                {
                    return;
                }

                more = await reader.WaitToReadAsync().ConfigureAwait(false);
                _idle.EndWait(worker.Parking, more);
            }

            if (!more)
            {
                return;
            }

            if (batchInvoker is null)
            {
                // Read straight into the worker's slot (where a stop finds the delivery in flight): one copy of the envelope, not two.
                while (!_abandoned && reader.TryRead(out worker.Current))
                {
                    _buffered.Take();
                    _roomWaiter.Wake();
                    Volatile.Write(ref worker.Busy, 1);
                    var pending = ProcessAsync(worker, worker.Current);
                    if (pending.IsCompletedSuccessfully)
                    {
                        pending.GetAwaiter().GetResult();
                    }
                    else
                    {
                        await pending.ConfigureAwait(false);
                    }
                }
            }
            else
            {
                while (!_abandoned && TakeInto(batch!, batchInvoker.MaxBatchSize))
                {
                    if (batch!.Count < batchInvoker.MaxBatchSize && batchInvoker.MaxWait > TimeSpan.Zero)
                    {
                        await FillWithinAsync(batch, batchInvoker).ConfigureAwait(false);
                    }

                    var envelopes = batch.ToArray();
                    batch.Clear();
                    worker.CurrentBatch = envelopes;
                    Volatile.Write(ref worker.Busy, 1);
                    await ProcessBatchAsync(worker, envelopes).ConfigureAwait(false);
                }
            }

            if (_abandoned)
            {
                return;
            }
        }
    }

    private void Drop(in Envelope envelope, UndeliveredReason reason)
    {
        Interlocked.Increment(ref _dropped);
        Count(_metrics.Dropped, 1);
        Report(envelope.Message, envelope.Context.ForSubscription(Name), reason, null);
        if (reason == UndeliveredReason.DroppedOldest)
        {
            _pending?.Leave(); // a dropped newest never entered
        }
    }

    private UndeliveredMessage Report(object message, MessageContext context, UndeliveredReason reason, Exception? exception, bool log = true)
    {
        var undelivered = new UndeliveredMessage(message, context, Topic.Name, Name, reason, exception);
        _env.Failures.Report(undelivered, log);
        return undelivered;
    }

    /// <summary>One worker: its delivery state (settlement, counters), its in-flight delivery and its parking; written by that worker only (but Busy, which the stop may claim).</summary>
    private sealed class WorkerState
    {
        public readonly DeliveryWorker Delivery = new();
        public readonly IdleWorkers.Parking Parking = new();
        public int Busy; // 0 idle, 1 delivering Current (or CurrentBatch), 2 claimed by an abandoning stop
        public Envelope Current;
        public Envelope[]? CurrentBatch;

        // The states are allocated back to back and each worker writes Busy and Current on every message: padding keeps two
        // workers' fields off one cache line (false sharing).
#pragma warning disable CS0169 // Never read: it only takes up space.
        private readonly CacheLinePadding _padding;
#pragma warning restore CS0169
    }
}
