using System.Threading.Tasks.Sources;

namespace EventBus;

/// <summary>
/// The outcome a sender of a queued command awaits (<see cref="ICommandSender{TCommand, TResult}.SendQueuedAsync(TCommand, PublishOptions?, CancellationToken)"/>).
/// It travels in the command's envelope (<see cref="MessageContext.Reply"/>, with the sender's options), so the queue carries
/// nothing more than for an enqueued command. Completed once: by the worker that handled the command (its result or rejection),
/// by the report of a command that could not be handled (dead-lettered, dropped, cut short by the stop), or by the sender's
/// cancellation, whichever comes first.
/// </summary>
internal abstract class ReplySink(PublishOptions? options)
{
    private int _completed;

    /// <summary>Gets the envelope values the sender gave.</summary>
    public PublishOptions? Options { get; } = options;

    /// <summary>The command was not handled: the sender gets the handler's exception, or one that says why.</summary>
    public void Fail(UndeliveredMessage undelivered)
    {
        if (!IsCompleted)
        {
            // The handler's own exception when its attempts failed (as SendAsync throws it); otherwise why it was not handled.
            SetException(undelivered is { Reason: UndeliveredReason.HandlerFailed, Exception: { } thrown }
                ? thrown
                : new InvalidOperationException(Describe(undelivered), undelivered.Exception));
        }
    }

    protected bool IsCompleted => Volatile.Read(ref _completed) != 0;

    /// <summary>The worker finished the delivery as a success (counted, no longer pending): the sender gets the result the handler returned.</summary>
    public abstract void Complete();

    /// <summary>Claims the one completion; false when the sink was already completed.</summary>
    protected bool TryClaim() => Interlocked.Exchange(ref _completed, 1) == 0;

    protected abstract void SetException(Exception exception);

    private static string Describe(UndeliveredMessage undelivered)
    {
        var why = undelivered.Reason switch
        {
            UndeliveredReason.Nacked => "its handler nacked or dead-lettered it and it has no attempts left",
            UndeliveredReason.DroppedOldest or UndeliveredReason.DroppedNewest => $"its queue was full and its full policy ({undelivered.Reason}) dropped it",
            UndeliveredReason.NotStartedBeforeStop => "the bus stopped before a worker took it",
            UndeliveredReason.RedeliveryAbandonedByStop => "the bus stopped while it waited for a redelivery",
            UndeliveredReason.CancelledByStop => "the bus stopped while its handler ran",
            _ => $"{undelivered.Reason}",
        };
        return $"The command '{undelivered.Topic}' was not handled by '{undelivered.Subscription}': {why}. It is reported to EventBusOptions.OnUndelivered (and dead-lettered, when its attempts were used up).";
    }
}

/// <summary>The outcome of a queued command whose result type is <typeparamref name="TResult"/>; awaited as a <see cref="ValueTask{TResult}"/> without another allocation.</summary>
/// <typeparam name="TResult">The result type (<see cref="VoidResult"/> for a command without one: then awaited as a <see cref="CommandResult"/>).</typeparam>
internal sealed class ReplySink<TResult>(PublishOptions? options) : ReplySink(options), IValueTaskSource<CommandResult<TResult>>, IValueTaskSource<CommandResult>
{
    // Continuations run on the thread pool: completing a reply never runs the sender's code on a bus worker.
    private ManualResetValueTaskSourceCore<CommandResult<TResult>> _core = new() { RunContinuationsAsynchronously = true };
    private CancellationTokenRegistration _cancellation;
    private CommandResult<TResult> _staged;

    public ValueTask<CommandResult<TResult>> Task => new(this, _core.Version);

    public ValueTask<CommandResult> VoidTask => new(this, _core.Version);

    /// <summary>Ends the sender's wait with <paramref name="cancellationToken"/>'s cancellation, if that comes first (the command may still be handled).</summary>
    public void CancelWith(CancellationToken cancellationToken)
    {
        if (cancellationToken.CanBeCanceled)
        {
            _cancellation = cancellationToken.UnsafeRegister(
                static (state, token) => ((ReplySink<TResult>)state!).SetException(new OperationCanceledException(token)),
                this);
            if (IsCompleted)
            {
                _cancellation.Unregister(); // completed before the registration was stored: do not keep it
            }
        }
    }

    /// <summary>The handler returned its result or rejection: kept until the worker finishes the delivery as a success (<see cref="Complete"/>); a later attempt replaces it.</summary>
    public void Stage(CommandResult<TResult> result) => _staged = result;

    public override void Complete()
    {
        if (TryClaim())
        {
            _cancellation.Unregister();
            _core.SetResult(_staged);
        }
    }

    protected override void SetException(Exception exception)
    {
        if (TryClaim())
        {
            _cancellation.Unregister();
            _core.SetException(exception);
        }
    }

    CommandResult<TResult> IValueTaskSource<CommandResult<TResult>>.GetResult(short token) => _core.GetResult(token);

    CommandResult IValueTaskSource<CommandResult>.GetResult(short token)
    {
        var result = _core.GetResult(token);
        return result.IsAccepted ? CommandResult.Accepted : result.Rejection;
    }

    ValueTaskSourceStatus IValueTaskSource<CommandResult<TResult>>.GetStatus(short token) => _core.GetStatus(token);

    ValueTaskSourceStatus IValueTaskSource<CommandResult>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<CommandResult<TResult>>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    void IValueTaskSource<CommandResult>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
