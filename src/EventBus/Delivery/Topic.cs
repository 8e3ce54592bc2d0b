using System.Diagnostics;

namespace EventBus;

/// <summary>
/// All subscriptions of one message type. A publish checks room in every subscription and writes to all of them under one lock,
/// so that every subscription of the topic sees the same order, and a publish (or a batch) reaches every subscription or none.
/// </summary>
/// <remarks>
/// Lock discipline: <see cref="_lock"/> is held only for room checks and non-blocking writes, never across an await. A publisher
/// that finds a <see cref="FullPolicy.Wait"/> subscription full releases the lock, waits for room in that subscription, and starts
/// again from the top; workers never take this lock, so waiting cannot deadlock against them (except a handler waiting on its own
/// buffer, which is detected).
/// </remarks>
[DebuggerDisplay("{Name,nq}: {Subscriptions.Length} subscription(s)")]
internal sealed class Topic
{
    private readonly Lock _lock = new();
    private readonly BusObservers _observers;
    private volatile bool _completed;

    public Topic(Type messageType, bool isCommand, EventBusMetrics metrics, BusObservers observers, PendingTracker? pending)
    {
        Metrics = metrics;
        _observers = observers;
        Pending = pending;
        MessageType = messageType;
        Name = MessageTypes.GetKey(messageType);
        IsCommand = isCommand;
    }

    public Type MessageType { get; }

    public EventBusMetrics Metrics { get; }

    public PendingTracker? Pending { get; }

    public KeyValuePair<string, object?> TopicTag => new(EventBusTelemetry.DestinationAttribute, Name);

    public string Name { get; }

    public bool IsCommand { get; }

    public Subscription[] Subscriptions { get; private set; } = [];

    public bool IsCompleted => _completed;

    /// <summary>Gets the topic's stream log, when the topic is a stream; otherwise null.</summary>
    public StreamLog? Log { get; private set; }

    /// <summary>Gets the topic's lock (the stream log shares it).</summary>
    public Lock SyncRoot => _lock;

    public void Initialize(Subscription[] subscriptions, StreamLog? log = null)
    {
        Subscriptions = subscriptions;
        Log = log;
    }

    public ValueTask PublishAsync(object message, MessageContext context, CancellationToken cancellationToken)
    {
        if (Pending is not { } pending)
        {
            return PublishCoreAsync(message, context, cancellationToken);
        }

        pending.Enter();
        try
        {
            return Tracked(PublishCoreAsync(message, context, cancellationToken), pending);
        }
        catch
        {
            pending.Leave();
            throw;
        }
    }

    /// <summary>Publishes the first <paramref name="count"/> messages of the arrays (which may be rented, hence longer) atomically and contiguously.</summary>
    public ValueTask PublishBatchAsync(object[] messages, MessageContext[] contexts, int count, CancellationToken cancellationToken)
    {
        if (Pending is not { } pending)
        {
            return PublishBatchCoreAsync(messages, contexts, count, cancellationToken);
        }

        pending.Enter();
        try
        {
            return Tracked(PublishBatchCoreAsync(messages, contexts, count, cancellationToken), pending);
        }
        catch
        {
            pending.Leave();
            throw;
        }
    }

    /// <summary>
    /// With pending messages counted (the test harness), a publish counts as one from before it takes the lock until it has told
    /// the observers: the bus is not idle while a publish is under way, even when its message was handled before the observers
    /// heard of it (they are told after the lock is released).
    /// </summary>
    private static ValueTask Tracked(ValueTask publish, PendingTracker pending)
    {
        if (publish.IsCompletedSuccessfully)
        {
            pending.Leave();
            return default;
        }

        return LeaveAfterAsync(publish, pending);

        static async ValueTask LeaveAfterAsync(ValueTask publish, PendingTracker pending)
        {
            try
            {
                await publish.ConfigureAwait(false);
            }
            finally
            {
                pending.Leave();
            }
        }
    }

    private ValueTask PublishCoreAsync(object message, MessageContext context, CancellationToken cancellationToken)
    {
        IBackpressured? blocked;
        lock (_lock)
        {
            blocked = TryWrite(message, ref context, null, 1);
        }

        if (blocked is not null)
        {
            return PublishSlowAsync(message, context, null, blocked, cancellationToken);
        }

        if (_observers.Any)
        {
            Observe(message, context, null);
        }

        return default;
    }

    private ValueTask PublishBatchCoreAsync(object[] messages, MessageContext[] contexts, int count, CancellationToken cancellationToken)
    {
        Log?.EnsureBatchFits(count);
        foreach (var subscription in Subscriptions)
        {
            if (subscription.FullPolicy is FullPolicy.Wait or FullPolicy.FailFast && count > subscription.Capacity)
            {
                ThrowHelper.ThrowBatchTooLarge(Name, subscription.Name, subscription.Capacity, count);
            }
        }

        var batch = new Batch(messages, contexts, count);
        IBackpressured? blocked;
        MessageContext none = default;
        lock (_lock)
        {
            blocked = TryWrite(null, ref none, batch, count);
        }

        if (blocked is not null)
        {
            return PublishSlowAsync(null, default, batch, blocked, cancellationToken);
        }

        if (_observers.Any)
        {
            Observe(null, default, batch);
        }

        return default;
    }

    /// <summary>Writes one envelope to one subscription (a re-drive) if it has room; throws once the topic is completed.</summary>
    public bool TryWriteOne(Subscription subscription, in Envelope envelope)
    {
        lock (_lock)
        {
            if (_completed)
            {
                ThrowStopped();
            }

            if (!subscription.HasRoom(1))
            {
                return false;
            }

            subscription.Write(envelope);
            return true;
        }
    }

    /// <summary>
    /// One attempt at publishing <paramref name="message"/>, without waiting: returns null once it is published, or the full
    /// <see cref="FullPolicy.Wait"/> subscription or consumer group a publish waits for (then nothing is published). Throws as
    /// <see cref="PublishAsync"/> does: for a full <see cref="FullPolicy.FailFast"/> one, and once the topic is completed.
    /// </summary>
    public IBackpressured? TryPublishOnce(object message, MessageContext context)
    {
        IBackpressured? blocked;
        lock (_lock)
        {
            blocked = TryWrite(message, ref context, null, 1);
        }

        if (blocked is null && _observers.Any)
        {
            Observe(message, context, null);
        }

        return blocked;
    }

    /// <summary>
    /// Publishes <paramref name="message"/> only if no subscription or consumer group that keeps every message (policy
    /// <see cref="FullPolicy.Wait"/> or <see cref="FullPolicy.FailFast"/>) is full now; drop policies drop as for any publish.
    /// Never waits and never throws for room: returns false, publishing nothing, when one is full or the topic is completed.
    /// </summary>
    public bool TryPublishNow(object message, MessageContext context)
    {
        lock (_lock)
        {
            if (_completed || FindFullThatKeeps() is not null)
            {
                return false;
            }

            try
            {
                // A worker may schedule a delayed redelivery between the check and the write (outside this lock), taking a place
                // back: then the write finds that subscription full and publishes nothing, or throws for a FailFast one.
                if (TryWrite(message, ref context, null, 1) is not null)
                {
                    return false;
                }
            }
            catch (BufferFullException)
            {
                return false;
            }
        }

        if (_observers.Any)
        {
            Observe(message, context, null);
        }

        return true;
    }

    /// <summary>
    /// Gets the first subscription or consumer group that keeps every message and has no room for one more now, or null when a
    /// publish would go through at once (or the topic is completed, and a publish fails).
    /// </summary>
    public IBackpressured? FindFullNow()
    {
        lock (_lock)
        {
            return _completed ? null : FindFullThatKeeps();
        }
    }

    /// <summary>Stops accepting: later publishes throw; publishers waiting for room wake up and throw.</summary>
    public void Complete()
    {
        lock (_lock)
        {
            _completed = true;
            foreach (var subscription in Subscriptions)
            {
                subscription.CompleteWriter();
            }
        }

        Log?.Complete();
    }

    /// <summary>Tells the observers what the topic accepted, after its lock is released.</summary>
    private void Observe(object? message, in MessageContext context, Batch? batch)
    {
        if (batch is not { } published)
        {
            _observers.Published(message!, context);
            return;
        }

        for (var i = 0; i < published.Count; i++)
        {
            _observers.Published(published.Messages[i], published.Contexts[i]);
        }
    }

    /// <summary>Refuses a message after the stop, naming the API it came through: a command's queue, or an event's topic.</summary>
    private void ThrowStopped()
    {
        if (IsCommand)
        {
            ThrowHelper.ThrowStoppedForCommand();
        }

        ThrowHelper.ThrowStopped();
    }

    private async ValueTask PublishSlowAsync(object? message, MessageContext context, Batch? batch, IBackpressured blocked, CancellationToken cancellationToken)
    {
        var count = batch?.Count ?? 1;
        while (true)
        {
            if (blocked.IsCurrentWorker())
            {
                ThrowHelper.ThrowSelfDeadlock(Name, blocked.Name);
            }

            await blocked.WaitForRoomAsync(count, cancellationToken).ConfigureAwait(false);
            IBackpressured? stillBlocked;
            lock (_lock)
            {
                stillBlocked = TryWrite(message, ref context, batch, count);
            }

            if (stillBlocked is null)
            {
                if (_observers.Any)
                {
                    Observe(message, context, batch);
                }

                return;
            }

            blocked = stillBlocked;
        }
    }

    /// <summary>Under the lock: the first Wait or FailFast subscription, or consumer group, without room for one more message.</summary>
    private IBackpressured? FindFullThatKeeps()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Room checks happen under the topic lock.");
        foreach (var subscription in Subscriptions)
        {
            if (subscription.FullPolicy is FullPolicy.Wait or FullPolicy.FailFast && !subscription.HasRoom(1))
            {
                return subscription;
            }
        }

        return Log?.FindGroupWithoutRoom(1);
    }

    /// <summary>
    /// Under the lock: returns a full <see cref="FullPolicy.Wait"/> subscription or consumer group to wait for, or appends to the
    /// stream (if any), writes to every subscription and returns null; a single message's <paramref name="context"/> then carries
    /// its offset when something reads it.
    /// </summary>
    private IBackpressured? TryWrite(object? message, ref MessageContext context, Batch? batch, int count)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread, "Room checks and writes happen under the topic lock.");
        if (_completed)
        {
            ThrowStopped();
        }

        var subscriptions = Subscriptions;
        IBackpressured? blocked = Log?.FindFullGroup(count);
        foreach (var subscription in subscriptions)
        {
            if (subscription.HasRoom(count))
            {
                continue;
            }

            switch (subscription.FullPolicy)
            {
                case FullPolicy.FailFast:
                    throw new BufferFullException(Name, subscription.Name, subscription.Capacity, count);
                case FullPolicy.Wait:
                    blocked ??= subscription;
                    break;
            }
        }

        if (blocked is not null)
        {
            return blocked;
        }

        // Room is checked for all: from here on no write can fail, so the publish is all-or-nothing.
        if (Log is { } log)
        {
            // Appended once, however many groups read it (the log keeps its own compact entry). The envelopes that subscriptions
            // and the observer receive carry the offset too; with neither, a single event's envelope is not stamped.
            if (batch is { } appended)
            {
                for (var i = 0; i < appended.Count; i++)
                {
                    appended.Contexts[i] = appended.Contexts[i].WithOffset(log.Append(appended.Messages[i], appended.Contexts[i]));
                }
            }
            else
            {
                var offset = log.Append(message!, context);
                if (subscriptions.Length != 0 || _observers.Any)
                {
                    context = context.WithOffset(offset);
                }
            }

            log.Publish(count);
        }

        if (Metrics.Published.Enabled)
        {
            Metrics.Published.Add(count, EventBusMetrics.System, TopicTag);
        }

        foreach (var subscription in subscriptions)
        {
            if (batch is not { } items)
            {
                subscription.Write(new Envelope(message!, context));
                continue;
            }

            for (var i = 0; i < items.Count; i++)
            {
                subscription.Write(new Envelope(items.Messages[i], items.Contexts[i]));
            }
        }

        return null;
    }
}

/// <summary>The messages of a batch publish and their envelopes: the first <see cref="Count"/> items of the arrays.</summary>
internal readonly record struct Batch(object[] Messages, MessageContext[] Contexts, int Count);
