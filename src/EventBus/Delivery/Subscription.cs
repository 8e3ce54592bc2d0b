using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace EventBus;

/// <summary>
/// One handler's view of one topic: a bounded buffer and the workers that drain it into the handler.
/// </summary>
/// <remarks>
/// <para>The buffer is an unbounded <see cref="Channel{T}"/> of struct <see cref="Envelope"/>s bounded by <see cref="_count"/>:
/// the topic checks room and writes under its own lock (so every subscription of a topic sees the same order and a batch is
/// all-or-nothing), and the workers only read. Keeping the count ourselves lets the topic check room for a whole batch without
/// taking the channel's lock, and lets a drop-oldest publish take the oldest message itself.</para>
/// <para>Invariant: <see cref="_count"/> is incremented before an envelope is written and decremented after one is read, so it is never
/// below the number of readable envelopes and never above <see cref="Capacity"/> (writes happen only after a room check under the topic lock,
/// and reads only lower it).</para>
/// </remarks>
[DebuggerDisplay("{Name,nq} on {Topic.Name,nq}: {Mode} x{Workers}, {Depth}/{Capacity} buffered")]
internal sealed class Subscription
{
    private readonly Channel<Envelope> _channel;
    private readonly HandlerInvoker _invoker;
    private readonly EventBusRuntime _bus;
    private readonly WorkerState[] _workers;
    private Task[]? _workerTasks;
    private int _count;
    private long _dropped;
    private volatile bool _abandoned;

    // Publishers waiting for room share one completion source; any dequeue completes it and they re-check.
    private TaskCompletionSource? _roomWaiter;

    public Subscription(EventBusRuntime bus, Topic topic, string name, HandlerInvoker invoker, DeliveryMode mode, int workers, int capacity, FullPolicy fullPolicy)
    {
        _bus = bus;
        Topic = topic;
        Name = name;
        _invoker = invoker;
        Mode = mode;
        Workers = workers;
        Capacity = capacity;
        FullPolicy = fullPolicy;
        _workers = new WorkerState[workers];
        for (var i = 0; i < workers; i++)
        {
            _workers[i] = new WorkerState();
        }

        _channel = Channel.CreateUnbounded<Envelope>(new UnboundedChannelOptions
        {
            // A drop-oldest publish reads from the buffer too, so only then are there several readers besides the workers.
            SingleReader = workers == 1 && fullPolicy != FullPolicy.DropOldest,
            SingleWriter = true, // every write happens under the topic's lock
            AllowSynchronousContinuations = false, // never run a handler on the publisher's thread
        });
    }

    public Topic Topic { get; }

    public string Name { get; }

    public DeliveryMode Mode { get; }

    public int Workers { get; }

    public int Capacity { get; }

    public FullPolicy FullPolicy { get; }

    public int Depth => Volatile.Read(ref _count);

    /// <summary>Gets a task that completes when every worker has exited.</summary>
    public Task Completion => _workerTasks is { } tasks ? Task.WhenAll(tasks) : Task.CompletedTask;

    public bool HasRoom(int count) => Volatile.Read(ref _count) + count <= Capacity;

    public void Start()
    {
        Debug.Assert(_workerTasks is null, "A subscription is started once.");
        var tasks = new Task[Workers];

        // Workers must not inherit the starter's ExecutionContext (its AsyncLocals, its Activity).
        using (ExecutionContext.SuppressFlow())
        {
            for (var i = 0; i < tasks.Length; i++)
            {
                var worker = _workers[i];
                tasks[i] = Task.Run(() => RunWorkerAsync(worker));
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
        var written = _channel.Writer.TryWrite(envelope);
        Debug.Assert(written, "The writer is completed only under the topic lock, after which nothing is written.");
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
        if (HasRoom(count) || _channel.Reader.Completion.IsCompleted || Topic.IsCompleted)
        {
            return Task.CompletedTask;
        }

        return waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Stops accepting: completes the buffer (workers drain what is in it) and wakes publishers waiting for room.</summary>
    public void CompleteWriter()
    {
        _channel.Writer.TryComplete();
        Interlocked.Exchange(ref _roomWaiter, null)?.TrySetResult();
    }

    /// <summary>After the stop timeout, before handlers are cancelled: workers finish their current message and take no more.</summary>
    public void StopTaking() => _abandoned = true;

    /// <summary>After the grace period: reports what is left in the buffer and what is still stuck in flight.</summary>
    public void CollectUnfinished(List<UndeliveredMessage> unfinished)
    {
        _abandoned = true;
        while (_channel.Reader.TryRead(out var envelope))
        {
            Interlocked.Decrement(ref _count);
            unfinished.Add(Report(envelope.Message, envelope.Context.ForSubscription(Name), UndeliveredReason.NotStartedBeforeStop, null));
        }

        foreach (var worker in _workers)
        {
            // Claim the in-flight delivery (busy 1 -> 2) so its worker, if it ever returns, does not report it again.
            if (Interlocked.CompareExchange(ref worker.Busy, 2, 1) == 1)
            {
                unfinished.Add(Report(worker.Current.Message, worker.Current.Context.ForSubscription(Name), UndeliveredReason.CancelledByStop, null));
            }
        }
    }

    public SubscriptionSnapshot GetSnapshot()
    {
        long succeeded = 0, failed = 0;
        var inFlight = 0;
        foreach (var worker in _workers)
        {
            succeeded += Volatile.Read(ref worker.Succeeded);
            failed += Volatile.Read(ref worker.Failed);
            inFlight += Volatile.Read(ref worker.Busy) == 1 ? 1 : 0;
        }

        return new SubscriptionSnapshot(Topic.Name, Name, Mode, Workers, Capacity, FullPolicy, Depth, inFlight,
            succeeded + failed + inFlight, succeeded, failed, Interlocked.Read(ref _dropped));
    }

    private async Task RunWorkerAsync(WorkerState worker)
    {
        // Lets a publish from inside this handler see that it would wait on its own buffer (see Topic.PublishSlowAsync).
        EventBusRuntime.CurrentSubscription.Value = this;
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (!_abandoned && reader.TryRead(out var envelope))
            {
                Interlocked.Decrement(ref _count);
                if (Volatile.Read(ref _roomWaiter) is not null)
                {
                    Interlocked.Exchange(ref _roomWaiter, null)?.TrySetResult();
                }

                worker.Current = envelope;
                Volatile.Write(ref worker.Busy, 1);
                var pending = DeliverAsync(worker, envelope);
                if (pending.IsCompletedSuccessfully)
                {
                    pending.GetAwaiter().GetResult();
                }
                else
                {
                    await pending.ConfigureAwait(false);
                }
            }

            if (_abandoned)
            {
                return;
            }
        }
    }

    private ValueTask DeliverAsync(WorkerState worker, in Envelope envelope)
    {
        var context = envelope.Context.ForSubscription(Name);
        ValueTask pending;
        try
        {
            pending = _invoker.InvokeAsync(envelope.Message, context, _bus.HandlerCancellation);
        }
        catch (Exception e)
        {
            Complete(worker, envelope.Message, context, e);
            return default;
        }

        if (pending.IsCompletedSuccessfully)
        {
            pending.GetAwaiter().GetResult();
            Complete(worker, envelope.Message, context, null);
            return default;
        }

        return AwaitDeliveryAsync(worker, pending, envelope.Message, context);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask AwaitDeliveryAsync(WorkerState worker, ValueTask pending, object message, MessageContext context)
    {
        Exception? failure = null;
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = e;
        }

        Complete(worker, message, context, failure);
    }

    private void Complete(WorkerState worker, object message, MessageContext context, Exception? failure)
    {
        // Busy 1 -> 0; if the stop already claimed this delivery (2), it was reported as unfinished: report nothing more.
        if (Interlocked.CompareExchange(ref worker.Busy, 0, 1) != 1)
        {
            Volatile.Write(ref worker.Busy, 0);
            return;
        }

        worker.Current = default;
        if (failure is null)
        {
            worker.Succeeded++;
            return;
        }

        worker.Failed++;
        var reason = failure switch
        {
            CommandRejectedException => UndeliveredReason.CommandRejected,
            OperationCanceledException when _bus.HandlerCancellation.IsCancellationRequested => UndeliveredReason.CancelledByStop,
            _ => UndeliveredReason.HandlerFailed,
        };
        var report = Report(message, context, reason, failure);
        if (reason == UndeliveredReason.CancelledByStop)
        {
            _bus.AddUnfinished(report);
        }
    }

    private void Drop(in Envelope envelope, UndeliveredReason reason)
    {
        Interlocked.Increment(ref _dropped);
        Report(envelope.Message, envelope.Context.ForSubscription(Name), reason, null);
    }

    private UndeliveredMessage Report(object message, MessageContext context, UndeliveredReason reason, Exception? exception)
    {
        var undelivered = new UndeliveredMessage(message, context, Topic.Name, Name, reason, exception);
        _bus.ReportUndelivered(undelivered);
        return undelivered;
    }

    /// <summary>One worker's counters and its in-flight delivery; written by that worker only (but Busy, which the stop may claim).</summary>
    private sealed class WorkerState
    {
        public long Succeeded;
        public long Failed;
        public int Busy; // 0 idle, 1 delivering Current, 2 claimed by an abandoning stop
        public Envelope Current;
    }
}
