using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

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
/// <para>The buffer is an unbounded <see cref="Channel{T}"/> of struct <see cref="Envelope"/>s bounded by <see cref="_count"/>:
/// the topic checks room and writes under its own lock (so every subscription of a topic sees the same order and a batch is
/// all-or-nothing), the workers read. Keeping the count ourselves lets the topic check room for a whole batch without taking the
/// channel's lock, and lets a drop-oldest publish take the oldest message itself.</para>
/// <para>Invariant: <see cref="_count"/> + <see cref="_scheduled"/> never exceeds <see cref="Capacity"/> by a publish: the count is
/// incremented before an envelope is written and decremented after one is read, and a message scheduled for a delayed
/// redelivery keeps its place (it moves from <see cref="_count"/>'s side to <see cref="_scheduled"/> and back), so failures that
/// wait for a retry still hold back publishers instead of growing memory.</para>
/// </remarks>
[DebuggerDisplay("{Name,nq} on {Topic.Name,nq}: {Mode} x{Workers}, {Depth}/{Capacity} buffered")]
internal sealed class Subscription
{
    private readonly Channel<Envelope> _channel;
    private readonly HandlerInvoker _invoker;
    private readonly EventBusRuntime _bus;
    private readonly SubscriptionSettings _settings;
    private readonly WorkerState[] _workers;
    private readonly DeadLetterStore _deadLetters;
    private readonly HashSet<ScheduledRedelivery> _scheduledItems = [];
    private readonly EventBusMetrics _metrics;
    private readonly IdleWorkers? _idle;
    private readonly PendingTracker? _pending;
    private Task[]? _workerTasks;
    private int _count;
    private int _scheduled;
    private long _dropped;
    private volatile bool _abandoned;

    // Publishers waiting for room share one completion source; any dequeue completes it and they re-check.
    private TaskCompletionSource? _roomWaiter;

    public Subscription(EventBusRuntime bus, Topic topic, Type handlerType, HandlerInvoker invoker, SubscriptionSettings settings)
    {
        HandlerType = handlerType;
        var name = MessageTypes.GetKey(handlerType);
        _bus = bus;
        Topic = topic;
        Name = name;
        _invoker = invoker;
        _settings = settings;
        _metrics = topic.Metrics;
        _pending = bus.Pending;
        TopicTag = topic.TopicTag;
        SubscriptionTag = new(EventBusTelemetry.ConsumerGroupAttribute, name);
        _deadLetters = new DeadLetterStore(settings.DeadLetterCapacity);
        _idle = settings.Workers > 1 ? new IdleWorkers() : null;
        _workers = new WorkerState[settings.Workers];
        for (var i = 0; i < _workers.Length; i++)
        {
            _workers[i] = new WorkerState();
        }

        _channel = Channel.CreateUnbounded<Envelope>(new UnboundedChannelOptions
        {
            // A drop-oldest publish reads from the buffer too, so only then are there several readers besides the workers.
            SingleReader = settings.Workers == 1 && settings.FullPolicy != FullPolicy.DropOldest,
            SingleWriter = false, // publishes (under the topic lock), redelivery timers and re-drives write
            AllowSynchronousContinuations = false, // never run a handler on the publisher's thread
        });
    }

    public Topic Topic { get; }

    public Type HandlerType { get; }

    public string Name { get; }

    public DeliveryMode Mode => _settings.Mode;

    public int Workers => _settings.Workers;

    public int Capacity => _settings.Capacity;

    public FullPolicy FullPolicy => _settings.FullPolicy;

    public int Depth => Volatile.Read(ref _count);

    public int InFlight => _workers.Count(static w => Volatile.Read(ref w.Busy) == 1);

    public KeyValuePair<string, object?> TopicTag { get; }

    public KeyValuePair<string, object?> SubscriptionTag { get; }

    /// <summary>Gets a value indicating whether a delivery must take the instrumented path (a span or a duration to record).</summary>
    private bool Instrumented => EventBusTelemetry.Source.HasListeners() || _metrics.ProcessDuration.Enabled || _metrics.QueueDuration.Enabled;

    public DeadLetterStore DeadLetters => _deadLetters;

    /// <summary>Gets a task that completes when every worker has exited.</summary>
    public Task Completion => _workerTasks is { } tasks ? Task.WhenAll(tasks) : Task.CompletedTask;

    public bool HasRoom(int count) => Volatile.Read(ref _count) + Volatile.Read(ref _scheduled) + count <= Capacity;

    public void Start()
    {
        Debug.Assert(_workerTasks is null, "A subscription is started once.");
        var tasks = new Task[_workers.Length];

        // Workers must not inherit the starter's ExecutionContext (its AsyncLocals, its Activity).
        using (ExecutionContext.SuppressFlow())
        {
            for (var i = 0; i < tasks.Length; i++)
            {
                var worker = _workers[i];
                var batch = _invoker as BatchHandlerInvoker;
                tasks[i] = Task.Run(() => RunWorkerAsync(worker, batch));
            }
        }

        _workerTasks = tasks;
    }

    /// <summary>Writes one envelope. Called under the topic's lock after the room check; applies the drop policies when full.</summary>
    public void Write(in Envelope envelope)
    {
        if (!HasRoom(1))
        {
            Debug.Assert(FullPolicy is FullPolicy.DropOldest or FullPolicy.DropNewest, "Wait and FailFast are resolved by the topic before writing.");
            if (FullPolicy == FullPolicy.DropNewest)
            {
                Drop(envelope, UndeliveredReason.DroppedNewest);
                return;
            }

            // A worker may take the oldest first: then there is room anyway.
            if (_channel.Reader.TryRead(out var oldest))
            {
                Interlocked.Decrement(ref _count);
                Drop(oldest, UndeliveredReason.DroppedOldest);
            }
        }

        Interlocked.Increment(ref _count);
        _pending?.Enter();
        if (!_channel.Writer.TryWrite(envelope))
        {
            Interlocked.Decrement(ref _count);
            _pending?.Leave();
            Debug.Fail("The writer is completed only under the topic lock, after which the topic writes nothing.");
        }
    }

    /// <summary>Waits until <paramref name="count"/> messages fit, the bus stops, or <paramref name="cancellationToken"/> fires.</summary>
    public Task WaitForRoomAsync(int count, CancellationToken cancellationToken)
    {
        var waiter = Volatile.Read(ref _roomWaiter);
        if (waiter is null)
        {
            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waiter = Interlocked.CompareExchange(ref _roomWaiter, created, null) ?? created;
        }

        // Re-check after publishing the waiter: a worker decrements the count, then takes the waiter (both full fences),
        // so either we see the room or the worker sees the waiter. No lost wake-up.
        if (HasRoom(count) || Topic.IsCompleted)
        {
            return Task.CompletedTask;
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Stops accepting: completes the buffer (workers drain what is in it) and wakes publishers waiting for room.</summary>
    public void CompleteWriter()
    {
        _channel.Writer.TryComplete();
        WakeRoomWaiters();
    }

    /// <summary>At the start of a stop: delayed redeliveries are not waited for; each is reported as unfinished.</summary>
    public void CancelScheduled()
    {
        ScheduledRedelivery[] items;
        lock (_scheduledItems)
        {
            items = [.. _scheduledItems];
            _scheduledItems.Clear();
        }

        foreach (var item in items)
        {
            item.Timer?.Dispose();
            Interlocked.Decrement(ref _scheduled);
            AbandonForStop(item.Envelope);
        }
    }

    /// <summary>After the stop timeout, before handlers are cancelled: workers finish their current message and take no more.</summary>
    public void StopTaking()
    {
        _abandoned = true;
        _idle?.CloseAll();
    }

    /// <summary>After the grace period: reports what is left in the buffer and what is still stuck in flight.</summary>
    public void CollectUnfinished(List<UndeliveredMessage> unfinished)
    {
        _abandoned = true;
        while (_channel.Reader.TryRead(out var envelope))
        {
            Interlocked.Decrement(ref _count);
            _pending?.Leave();
            unfinished.Add(Report(envelope.Message, envelope.Context.ForSubscription(Name), UndeliveredReason.NotStartedBeforeStop, null));
        }

        foreach (var worker in _workers)
        {
            // Claim the in-flight delivery (busy 1 -> 2) so its worker, if it ever returns, does not report it again.
            if (Interlocked.CompareExchange(ref worker.Busy, 2, 1) == 1)
            {
                foreach (var envelope in worker.CurrentBatch ?? [worker.Current])
                {
                    _pending?.Leave();
                    unfinished.Add(Report(envelope.Message, envelope.Context.ForSubscription(Name), UndeliveredReason.CancelledByStop, null));
                }
            }
        }
    }

    /// <summary>Puts a dead letter back for a new round of attempts, under the topic's lock, when there is room.</summary>
    public bool TryRequeue(DeadLetter deadLetter)
    {
        var context = deadLetter.Context.ForRedrive();
        return Topic.TryWriteOne(this, new Envelope(deadLetter.Message, context));
    }

    public SubscriptionSnapshot GetSnapshot()
    {
        long attempts = 0, succeeded = 0, failed = 0, retried = 0, deadLettered = 0;
        var inFlight = 0;
        foreach (var worker in _workers)
        {
            attempts += Volatile.Read(ref worker.Attempts);
            succeeded += Volatile.Read(ref worker.Succeeded);
            failed += Volatile.Read(ref worker.Failed);
            retried += Volatile.Read(ref worker.Retried);
            deadLettered += Volatile.Read(ref worker.DeadLettered);
            inFlight += Volatile.Read(ref worker.Busy) == 1 ? 1 : 0;
        }

        return new SubscriptionSnapshot(Topic.Name, Name, Mode, Workers, Capacity, FullPolicy, Depth, inFlight,
            attempts, succeeded, failed, Interlocked.Read(ref _dropped), retried, deadLettered, Volatile.Read(ref _scheduled), _deadLetters.Count, State);
    }

    public SubscriptionState State => _workerTasks switch
    {
        null => SubscriptionState.NotStarted,
        var tasks when Array.Exists(tasks, static t => t.IsFaulted) => SubscriptionState.Faulted,
        var tasks when Array.TrueForAll(tasks, static t => t.IsCompleted) => SubscriptionState.Stopped,
        _ => SubscriptionState.Running,
    };

    public SubscriptionDescription Describe() =>
        new(Name, HandlerType, Mode, Workers, Capacity, FullPolicy, _settings.Redelivery.MaxDeliveries, _settings.HandlerTimeout, _settings.AckMode, _invoker is BatchHandlerInvoker);

    private void WakeRoomWaiters()
    {
        if (Volatile.Read(ref _roomWaiter) is not null)
        {
            Interlocked.Exchange(ref _roomWaiter, null)?.TrySetResult();
        }
    }

    /// <summary>
    /// A worker's loop: wait for work, then drain the buffer into the handler (one message at a time, or in batches).
    /// The idle protocol of competing workers (<see cref="IdleWorkers"/>) is inlined so that its awaits run in this loop's state
    /// machine, which lives as long as the worker: going idle and waking up allocate nothing.
    /// </summary>
    private async Task RunWorkerAsync(WorkerState worker, BatchHandlerInvoker? batchInvoker)
    {
        // Lets a publish from inside this handler see that it would wait on its own buffer (see Topic.PublishSlowAsync).
        EventBusRuntime.CurrentSubscription.Value = this;
        var reader = _channel.Reader;
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
                while (!_abandoned && reader.TryRead(out var envelope))
                {
                    Interlocked.Decrement(ref _count);
                    WakeRoomWaiters();
                    worker.Current = envelope;
                    Volatile.Write(ref worker.Busy, 1);
                    var pending = ProcessAsync(worker, envelope);
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
                    await ProcessBatchAsync(worker, batchInvoker, envelopes).ConfigureAwait(false);
                }
            }

            if (_abandoned)
            {
                return;
            }
        }
    }

    private bool TakeInto(List<Envelope> batch, int max)
    {
        while (batch.Count < max && _channel.Reader.TryRead(out var envelope))
        {
            Interlocked.Decrement(ref _count);
            batch.Add(envelope);
        }

        if (batch.Count > 0)
        {
            WakeRoomWaiters();
        }

        return batch.Count > 0;
    }

    /// <summary>Waits up to the batch's wait for more events, taking them as they arrive.</summary>
    private async ValueTask FillWithinAsync(List<Envelope> batch, BatchHandlerInvoker invoker)
    {
        using var deadline = new CancellationTokenSource(invoker.MaxWait, _bus.TimeProvider);
        try
        {
            while (batch.Count < invoker.MaxBatchSize && await _channel.Reader.WaitToReadAsync(deadline.Token).ConfigureAwait(false))
            {
                TakeInto(batch, invoker.MaxBatchSize);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
        }
    }

    /// <summary>Delivers a batch until it is acknowledged or every message of it is dead-lettered. Redeliveries wait in place.</summary>
    private async ValueTask ProcessBatchAsync(WorkerState worker, BatchHandlerInvoker invoker, Envelope[] envelopes)
    {
        var messages = new object[envelopes.Length];
        for (var i = 0; i < messages.Length; i++)
        {
            messages[i] = envelopes[i].Message;
        }

        var contexts = new MessageContext[envelopes.Length];
        var firstFailure = default(DateTimeOffset?);
        for (var attempt = 1; ; attempt++)
        {
            var version = worker.Settlement.Begin();
            for (var i = 0; i < contexts.Length; i++)
            {
                contexts[i] = envelopes[i].Context.ForDelivery(Name, attempt, worker.Settlement, version);
            }

            worker.Attempts += envelopes.Length;
            Count(_metrics.Delivered, envelopes.Length);
            using var activity = Instrumented ? StartProcessActivity(contexts[0], envelopes.Length) : null;
            var started = Stopwatch.GetTimestamp();
            AttemptFailure? failure;
            using (var timeout = _settings.HandlerTimeout is { } t ? new CancellationTokenSource(t, _bus.TimeProvider) : null)
            using (timeout is null ? default : _bus.HandlerCancellation.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout))
            {
                ValueTask pending;
                try
                {
                    pending = invoker.InvokeBatchAsync(messages, contexts, timeout?.Token ?? _bus.HandlerCancellation);
                }
                catch (Exception e)
                {
                    pending = ValueTask.FromException(e);
                }

                failure = await ObserveAsync(worker, pending, timeout is null ? null : (timeout, _settings.HandlerTimeout!.Value)).ConfigureAwait(false);
            }

            EndAttempt(activity, started, failure);

            if (failure is null)
            {
                Finish(worker, () =>
                {
                    worker.Succeeded += envelopes.Length;
                    Count(_metrics.Succeeded, envelopes.Length);
                    if (_pending?.Handled is { } handled)
                    {
                        foreach (var envelope in envelopes)
                        {
                            handled(envelope.Message, envelope.Context.ForSubscription(Name));
                        }
                    }

                    _pending?.Leave(envelopes.Length);
                });
                worker.CurrentBatch = null;
                return;
            }

            if (_pending?.Failed is { } failed)
            {
                foreach (var envelope in envelopes)
                {
                    failed(envelope.Message, envelope.Context.ForSubscription(Name).WithDeliveryCount(attempt), failure.Exception);
                }
            }

            var now = _bus.TimeProvider.GetUtcNow();
            firstFailure ??= now;
            var retry = _settings.AckMode == AckMode.AfterHandling && failure.Kind != SettlementKind.DeadLetter && attempt < _settings.Redelivery.MaxDeliveries;
            var delay = retry ? _settings.Redelivery.GetDelay(attempt + 1, Random.Shared.NextDouble()) : TimeSpan.Zero;
            if (retry && !(delay > TimeSpan.Zero && _bus.IsStopping))
            {
                worker.Retried += envelopes.Length;
                Count(_metrics.Retried, envelopes.Length);
                Log.Redelivering(_bus.Logger, Name, contexts[0].MessageType, contexts[0].MessageId, attempt + 1, delay, failure.Exception);
                try
                {
                    await Task.Delay(delay, _bus.TimeProvider, _bus.StoppingToken).ConfigureAwait(false);
                    continue;
                }
                catch (OperationCanceledException)
                {
                }
            }

            var lastAttempt = attempt;
            var stopping = retry; // a retry cut short by the stop
            Finish(worker, () =>
            {
                for (var i = 0; i < envelopes.Length; i++)
                {
                    var context = envelopes[i].Context.ForSubscription(Name).WithDeliveryCount(lastAttempt);
                    if (stopping)
                    {
                        AbandonForStop(envelopes[i]);
                    }
                    else if (_settings.AckMode == AckMode.BeforeHandling)
                    {
                        worker.Failed++;
                        Count(_metrics.Failed, 1);
                        _pending?.Leave();
                        Report(envelopes[i].Message, context, failure.Kind == SettlementKind.None ? UndeliveredReason.HandlerFailed : UndeliveredReason.Nacked, failure.Exception);
                    }
                    else
                    {
                        DeadLetterMessage(worker, envelopes[i].Message, context, failure, lastAttempt, firstFailure.Value, now);
                    }
                }
            });
            worker.CurrentBatch = null;
            return;
        }
    }

    /// <summary>Delivers one message until it is acknowledged, scheduled for a delayed redelivery, or dead-lettered.</summary>
    private ValueTask ProcessAsync(WorkerState worker, in Envelope envelope)
    {
        // Fast path (no timeout, nothing to trace or time, handler completes synchronously and succeeds): no state machine, no allocation.
        if (_settings.HandlerTimeout is null && !Instrumented)
        {
            var attempt = envelope.Context.DeliveryCount;
            var context = envelope.Context.ForDelivery(Name, attempt, worker.Settlement, worker.Settlement.Begin());
            worker.Attempts++;
            Count(_metrics.Delivered, 1);
            ValueTask pending;
            try
            {
                pending = _invoker.InvokeAsync(envelope.Message, context, _bus.HandlerCancellation);
            }
            catch (Exception e)
            {
                worker.Settlement.End();
                return ProcessSlowAsync(worker, envelope, new AttemptFailure(e, SettlementKind.None, null), default, firstAttemptMade: true);
            }

            if (!pending.IsCompletedSuccessfully)
            {
                return ProcessSlowAsync(worker, envelope, null, pending, firstAttemptMade: true);
            }

            pending.GetAwaiter().GetResult();
            var reason = worker.Settlement.Reason;
            var kind = worker.Settlement.End();
            if (kind == SettlementKind.None)
            {
                Finish(worker, null);
                return default;
            }

            return ProcessSlowAsync(worker, envelope, new AttemptFailure(null, kind, reason), default, firstAttemptMade: true);
        }

        return ProcessSlowAsync(worker, envelope, null, default, firstAttemptMade: false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessSlowAsync(WorkerState worker, Envelope envelope, AttemptFailure? knownFailure, ValueTask firstPending, bool firstAttemptMade)
    {
        var attempt = envelope.Context.DeliveryCount;
        var firstFailureTicks = envelope.FirstFailureTicks;
        while (true)
        {
            // 1. The attempt's outcome: null when it succeeded.
            AttemptFailure? failure;
            if (firstAttemptMade)
            {
                firstAttemptMade = false;
                failure = knownFailure ?? await ObserveAsync(worker, firstPending, timeout: null).ConfigureAwait(false);
            }
            else
            {
                var context = envelope.Context.ForDelivery(Name, attempt, worker.Settlement, worker.Settlement.Begin());
                worker.Attempts++;
                Count(_metrics.Delivered, 1);
                failure = await AttemptAsync(worker, envelope.Message, context).ConfigureAwait(false);
            }

            if (failure is null)
            {
                Finish(worker, null);
                return;
            }

            // 2. A failure: at-most-once reports it; otherwise redeliver (now, later, or in place) or dead-letter.
            _pending?.Failed?.Invoke(envelope.Message, envelope.Context.ForSubscription(Name).WithDeliveryCount(attempt), failure.Exception);
            var now = _bus.TimeProvider.GetUtcNow();
            if (firstFailureTicks == 0)
            {
                firstFailureTicks = now.UtcTicks;
            }

            var lastContext = envelope.Context.ForSubscription(Name).WithDeliveryCount(attempt);
            if (failure.Exception is CommandRejectedException || _settings.AckMode == AckMode.BeforeHandling)
            {
                // A rejection is the command's final outcome; at-most-once never redelivers. Both are reported, not dead-lettered.
                var reason = failure.Exception is CommandRejectedException ? UndeliveredReason.CommandRejected
                    : failure.Kind == SettlementKind.None ? UndeliveredReason.HandlerFailed : UndeliveredReason.Nacked;
                Finish(worker, () =>
                {
                    worker.Failed++;
                    Count(_metrics.Failed, 1);
                    _pending?.Leave();
                    Report(envelope.Message, lastContext, reason, failure.Exception);
                });
                return;
            }

            if (failure.Kind == SettlementKind.DeadLetter || attempt >= _settings.Redelivery.MaxDeliveries)
            {
                Finish(worker, () => DeadLetterMessage(worker, envelope.Message, lastContext, failure, attempt, new DateTimeOffset(firstFailureTicks, TimeSpan.Zero), now));
                return;
            }

            var next = attempt + 1;
            var delay = _settings.Redelivery.GetDelay(next, Random.Shared.NextDouble());
            worker.Retried++;
            Count(_metrics.Retried, 1);
            Log.Redelivering(_bus.Logger, Name, lastContext.MessageType, lastContext.MessageId, next, delay, failure.Exception);
            if (delay > TimeSpan.Zero && _bus.IsStopping)
            {
                Finish(worker, () => AbandonForStop(envelope));
                return;
            }

            if (delay > TimeSpan.Zero && Mode == DeliveryMode.Queue)
            {
                // The worker moves on; the message keeps its place in the capacity while it waits.
                var scheduled = new Envelope(envelope.Message, envelope.Context.WithDeliveryCount(next), firstFailureTicks);
                Finish(worker, () => Schedule(scheduled, delay));
                return;
            }

            if (delay > TimeSpan.Zero)
            {
                // Broadcast keeps its order: wait in place. A stop cuts the wait short and reports the message.
                try
                {
                    await Task.Delay(delay, _bus.TimeProvider, _bus.StoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    Finish(worker, () => AbandonForStop(envelope));
                    return;
                }
            }

            attempt = next;
        }
    }

    /// <summary>Makes one attempt inside a <c>process</c> span (when traced), recording its durations (when measured).</summary>
    private async ValueTask<AttemptFailure?> AttemptAsync(WorkerState worker, object message, MessageContext context)
    {
        if (!Instrumented)
        {
            return await AttemptCoreAsync(worker, message, context).ConfigureAwait(false);
        }

        using var activity = StartProcessActivity(context, 1);
        var started = Stopwatch.GetTimestamp();
        RecordQueueDuration(context);
        var failure = await AttemptCoreAsync(worker, message, context).ConfigureAwait(false);
        EndAttempt(activity, started, failure);
        return failure;
    }

    private Activity? StartProcessActivity(in MessageContext context, int batchCount)
    {
        var activity = EventBusTelemetry.Source.StartActivity($"process {Topic.Name}", ActivityKind.Consumer, context.TraceContext);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(EventBusTelemetry.SystemAttribute, EventBusTelemetry.SystemName);
            activity.SetTag(EventBusTelemetry.DestinationAttribute, Topic.Name);
            activity.SetTag(EventBusTelemetry.ConsumerGroupAttribute, Name);
            activity.SetTag(EventBusTelemetry.OperationTypeAttribute, "process");
            activity.SetTag(EventBusTelemetry.OperationNameAttribute, "process");
            activity.SetTag(EventBusTelemetry.DeliveryCountAttribute, context.DeliveryCount);
            EventBusRuntime.TagMessage(activity, context);
            if (batchCount > 1)
            {
                activity.SetTag(EventBusTelemetry.BatchCountAttribute, batchCount);
            }
        }

        return activity;
    }

    private void RecordQueueDuration(in MessageContext context)
    {
        if (_metrics.QueueDuration.Enabled)
        {
            _metrics.QueueDuration.Record(Math.Max(0, (_bus.TimeProvider.GetUtcNow() - context.Timestamp).TotalSeconds), EventBusMetrics.System, TopicTag, SubscriptionTag);
        }
    }

    private void EndAttempt(Activity? activity, long started, AttemptFailure? failure)
    {
        if (_metrics.ProcessDuration.Enabled)
        {
            _metrics.ProcessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, EventBusMetrics.System, TopicTag, SubscriptionTag);
        }

        if (failure is not null)
        {
            EventBusRuntime.SetError(activity, failure.Exception ?? new InvalidOperationException(failure.Reason));
        }
    }

    private void Count(Counter<long> counter, long value)
    {
        if (counter.Enabled)
        {
            counter.Add(value, EventBusMetrics.System, TopicTag, SubscriptionTag);
        }
    }

    /// <summary>Makes one attempt with the handler timeout, if any. Returns null on success.</summary>
    private async ValueTask<AttemptFailure?> AttemptCoreAsync(WorkerState worker, object message, MessageContext context)
    {
        var timeout = _settings.HandlerTimeout;
        if (timeout is null)
        {
            try
            {
                return await ObserveAsync(worker, _invoker.InvokeAsync(message, context, _bus.HandlerCancellation), null).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                worker.Settlement.End();
                return new AttemptFailure(e, SettlementKind.None, null);
            }
        }

        // The attempt's token fires on the timeout (timer from the bus's TimeProvider) or when the stop cancels handlers.
        using var timeoutSource = new CancellationTokenSource(timeout.Value, _bus.TimeProvider);
        using var stopLink = _bus.HandlerCancellation.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeoutSource);
        ValueTask pending;
        try
        {
            pending = _invoker.InvokeAsync(message, context, timeoutSource.Token);
        }
        catch (Exception e)
        {
            worker.Settlement.End();
            return new AttemptFailure(e, SettlementKind.None, null);
        }

        return await ObserveAsync(worker, pending, (timeoutSource, timeout.Value)).ConfigureAwait(false);
    }

    /// <summary>Awaits an attempt; with a timeout, abandons a handler that ignores its cancelled token after the grace period.</summary>
    private async ValueTask<AttemptFailure?> ObserveAsync(WorkerState worker, ValueTask pending, (CancellationTokenSource Source, TimeSpan Timeout)? timeout)
    {
        try
        {
            if (timeout is null)
            {
                await pending.ConfigureAwait(false);
            }
            else
            {
                var task = pending.AsTask();
                try
                {
                    await task.WaitAsync(timeout.Value.Timeout + _bus.Options.HandlerTimeoutGracePeriod, _bus.TimeProvider).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // The handler ignored its cancelled token: abandon it (it keeps running unobserved) and free the worker.
                    _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    worker.Settlement.End();
                    return new AttemptFailure(new TimeoutException($"The handler of subscription '{Name}' did not finish within its timeout of {timeout.Value.Timeout} and ignored cancellation for the grace period of {_bus.Options.HandlerTimeoutGracePeriod}; it was abandoned."), SettlementKind.None, null);
                }
            }
        }
        catch (OperationCanceledException e) when (timeout is { } t && t.Source.IsCancellationRequested && !_bus.HandlerCancellation.IsCancellationRequested)
        {
            worker.Settlement.End();
            return new AttemptFailure(new TimeoutException($"The handler of subscription '{Name}' did not finish within its timeout of {t.Timeout}.", e), SettlementKind.None, null);
        }
        catch (Exception e)
        {
            worker.Settlement.End();
            return new AttemptFailure(e, SettlementKind.None, null);
        }

        var reason = worker.Settlement.Reason;
        var kind = worker.Settlement.End();
        return kind == SettlementKind.None ? null : new AttemptFailure(null, kind, reason);
    }

    /// <summary>Ends the delivery in progress: counts it, runs its outcome (unless the stop already claimed it), frees the worker.</summary>
    private void Finish(WorkerState worker, Action? failureOutcome)
    {
        // Busy 1 -> 0; if the stop already claimed this delivery (2), it was reported as unfinished: report nothing more.
        if (Interlocked.CompareExchange(ref worker.Busy, 0, 1) != 1)
        {
            Volatile.Write(ref worker.Busy, 0);
            return;
        }

        var current = worker.Current;
        worker.Current = default;
        if (failureOutcome is null)
        {
            worker.Succeeded++;
            Count(_metrics.Succeeded, 1);
            _pending?.Handled?.Invoke(current.Message, current.Context.ForSubscription(Name));
            _pending?.Leave();
            return;
        }

        failureOutcome();
    }

    private void DeadLetterMessage(WorkerState worker, object message, MessageContext context, AttemptFailure failure, int deliveryCount, DateTimeOffset firstFailure, DateTimeOffset lastFailure)
    {
        worker.Failed++;
        worker.DeadLettered++;
        Count(_metrics.Failed, 1);
        Count(_metrics.DeadLettered, 1);
        _pending?.Leave();
        var reason = failure.Reason ?? failure.Exception?.Message ?? "The handler failed.";
        var deadLetter = new DeadLetter(message, context, Topic.Name, Name, reason, failure.Exception, deliveryCount, firstFailure, lastFailure);
        if (failure.Exception is OperationCanceledException && _bus.HandlerCancellation.IsCancellationRequested)
        {
            // Cancelled by the stop, not failed by the handler: the stop report lists it; it is not dead-lettered.
            _bus.AddUnfinished(Report(message, context, UndeliveredReason.CancelledByStop, failure.Exception));
            return;
        }

        Log.DeadLettered(_bus.Logger, Name, context.MessageType, context.MessageId, deliveryCount, reason);
        Report(message, context, failure.Exception is null ? UndeliveredReason.Nacked : UndeliveredReason.HandlerFailed, failure.Exception);
        if (_deadLetters.Add(deadLetter) is { } discarded)
        {
            Report(discarded.Message, discarded.Context, UndeliveredReason.DeadLetterDiscarded, null);
        }
    }

    private void Schedule(Envelope envelope, TimeSpan delay)
    {
        // Under the lock, so that Fire (which takes it) cannot run before the item is counted, and so that an observer who sees
        // the count knows the timer exists.
        var item = new ScheduledRedelivery(this, envelope);
        lock (_scheduledItems)
        {
            _scheduledItems.Add(item);
            item.Timer = _bus.TimeProvider.CreateTimer(static s => ((ScheduledRedelivery)s!).Fire(), item, delay, Timeout.InfiniteTimeSpan);
            Interlocked.Increment(ref _scheduled);
        }
    }

    private void Fire(ScheduledRedelivery item)
    {
        lock (_scheduledItems)
        {
            if (!_scheduledItems.Remove(item))
            {
                return; // the stop took it first
            }
        }

        item.Timer?.Dispose();

        // The message moves from the scheduled side of the capacity back to the buffer side: room stays the same.
        Interlocked.Increment(ref _count);
        Interlocked.Decrement(ref _scheduled);
        if (!_channel.Writer.TryWrite(item.Envelope))
        {
            Interlocked.Decrement(ref _count);
            AbandonForStop(item.Envelope);
        }
    }

    private void AbandonForStop(in Envelope envelope)
    {
        _pending?.Leave();
        var report = Report(envelope.Message, envelope.Context.ForSubscription(Name), UndeliveredReason.RedeliveryAbandonedByStop, null);
        _bus.AddUnfinished(report);
    }

    private void Drop(in Envelope envelope, UndeliveredReason reason)
    {
        Interlocked.Increment(ref _dropped);
        Count(_metrics.Dropped, 1);
        if (reason == UndeliveredReason.DroppedOldest)
        {
            _pending?.Leave(); // a dropped newest never entered
        }

        Report(envelope.Message, envelope.Context.ForSubscription(Name), reason, null);
    }

    private UndeliveredMessage Report(object message, MessageContext context, UndeliveredReason reason, Exception? exception)
    {
        var undelivered = new UndeliveredMessage(message, context, Topic.Name, Name, reason, exception);
        _bus.ReportUndelivered(undelivered);
        return undelivered;
    }

    private sealed record AttemptFailure(Exception? Exception, SettlementKind Kind, string? Reason);

    /// <summary>A message waiting on a timer for its delayed redelivery.</summary>
    private sealed class ScheduledRedelivery(Subscription owner, Envelope envelope)
    {
        public Envelope Envelope { get; } = envelope;

        public ITimer? Timer { get; set; }

        public void Fire() => owner.Fire(this);
    }

    /// <summary>One worker's counters, its in-flight delivery and its settlement; written by that worker only (but Busy, which the stop may claim).</summary>
    private sealed class WorkerState
    {
        public readonly Settlement Settlement = new();
        public readonly IdleWorkers.Parking Parking = new();
        public long Attempts;
        public long Succeeded;
        public long Failed;
        public long Retried;
        public long DeadLettered;
        public int Busy; // 0 idle, 1 delivering Current (or CurrentBatch), 2 claimed by an abandoning stop
        public Envelope Current;
        public Envelope[]? CurrentBatch;
    }
}
