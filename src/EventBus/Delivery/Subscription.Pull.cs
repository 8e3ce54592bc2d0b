using System.Threading.Channels;

namespace EventBus;

/// <content>
/// A pull subscription: no worker takes from its buffer; readers outside the bus do, through a
/// <see cref="ChannelReader{T}"/> (<see cref="SubscriptionReader{TEvent}"/>) that reads the buffer itself. The buffer is a channel
/// buffer (<see cref="EnvelopeBuffer.Create"/>), which lets any number of readers wait at once, each with its own cancellation.
/// </content>
/// <remarks>
/// <para>A read does what a worker's take and a successful delivery do together: it frees the slot (publishers waiting for room
/// wake), counts the event delivered and acknowledged, and the event stops being pending. Acknowledged when read: at most once.</para>
/// <para>Stop: the topic completes the buffer, readers drain it, and the subscription's completion (what the stop waits for, as it
/// waits for workers) is the buffer's. When the stop timeout expires, <see cref="StopTaking"/> releases the stop from waiting for
/// readers, and <see cref="CollectUnfinished"/> takes what is still unread and reports it as not started.</para>
/// </remarks>
internal sealed partial class Subscription
{
    private long _pulled;
    private TaskCompletionSource? _pullReleased;
    private object? _reader;

    /// <summary>Gets a value indicating whether this is a pull subscription: readers take its events, no handler runs.</summary>
    public bool IsPull => _invoker is PullInvoker;

    /// <summary>Gets a task that completes once the buffer is completed (the bus stopped) and every event in it was read or reported.</summary>
    public Task PullCompletion => _buffer.Completion;

    /// <summary>The reader of this pull subscription, one per subscription: readers hold no state of their own.</summary>
    public ChannelReader<StreamEvent<TEvent>> GetReader<TEvent>()
    {
        if (Volatile.Read(ref _reader) is not { } reader)
        {
            var created = new SubscriptionReader<TEvent>(this);
            reader = Interlocked.CompareExchange(ref _reader, created, null) ?? created;
        }

        return (ChannelReader<StreamEvent<TEvent>>)reader;
    }

    /// <summary>Takes the oldest unread event, if any, for one reader: each event goes to one reader, acknowledged as it is taken.</summary>
    public bool TryTake(out object message, out MessageContext context)
    {
        if (!_buffer.TryRead(out var taken))
        {
            message = null!;
            context = default;
            return false;
        }

        // The take is an interlocked increment: the full fence the room waiter needs before it reads its waiters.
        _buffered.Take();
        _roomWaiter.Wake();
        Interlocked.Increment(ref _pulled);
        Count(_metrics.Delivered, 1);
        Count(_metrics.Succeeded, 1);
        message = taken.Message;
        context = taken.Context.ForSubscription(Name);
        if (_env.Observers.Any)
        {
            _env.Observers.Handled(message, context);
        }

        _pending?.Leave();
        return true;
    }

    /// <summary>Waits until an event may be read (<see langword="true"/>) or the buffer is completed and empty (<see langword="false"/>).</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _buffer.WaitToReadAsync(cancellationToken);

    /// <summary>Called by <see cref="Start"/>: the task the stop waits for in place of the workers.</summary>
    private Task StartPull()
    {
        _pullReleased = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return WhenPullDrainedAsync(_buffer.Completion, _pullReleased.Task);

        // The readers drained the completed buffer, or the stop stopped waiting for them.
        static async Task WhenPullDrainedAsync(Task drained, Task released) => await Task.WhenAny(drained, released).ConfigureAwait(false);
    }

    /// <summary>Called by <see cref="StopTaking"/>: the stop no longer waits for readers; what they leave is reported as not started.</summary>
    private void ReleasePull() => _pullReleased?.TrySetResult();
}
