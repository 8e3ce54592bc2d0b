namespace EventBus;

/// <summary>Sends commands to their single handler, inline or through its queue. Resolve it from DI; it is a thread-safe singleton.</summary>
/// <remarks>
/// <para><c>SendAsync</c> runs the handler on the caller's flow, in its own DI scope, through the middleware pipeline, and returns
/// the outcome: a rejection is a normal result. Where a rejection is exceptional for the caller, read
/// <see cref="CommandResult{TResult}.Value"/> or call <see cref="CommandResult.ThrowIfRejected"/>: both throw
/// <see cref="CommandRejectedException"/>. An exception thrown by the handler propagates to the caller.</para>
/// <para><c>EnqueueAsync</c> puts the command on its queue without waiting for the outcome (fire and forget): one of the bus's
/// workers handles it, with the queue's retries, dead letters and backpressure.</para>
/// <para>For a command type known where the call is written, resolve its typed sender (<see cref="ICommandSender{TCommand, TResult}"/>,
/// <see cref="ICommandSender{TCommand}"/>): it adds <c>InvokeAsync</c> (the value itself, the fastest inline send) and
/// <c>SendQueuedAsync</c> (the command goes through its queue and the caller awaits the outcome).</para>
/// </remarks>
public interface ICommandBus
{
    /// <summary>Sends a command that returns no value and awaits its outcome.</summary>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values (correlation, causation, headers; use <see cref="PublishOptions.CausedBy(in MessageContext)"/> inside a handler), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>Accepted, or the handler's rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for the command's type.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask<CommandResult> SendAsync(ICommand command, PublishOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Sends a command that returns a value and awaits its outcome.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values (correlation, causation, headers; use <see cref="PublishOptions.CausedBy(in MessageContext)"/> inside a handler), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>The handler's result, or its rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for the command's type.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask<CommandResult<TResult>> SendAsync<TResult>(ICommand<TResult> command, PublishOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts a command on its queue, to be handled by one of the bus's workers (<see cref="DeliveryMode.Queue"/>). The outcome is
    /// not returned: failures and rejections are logged, counted and reported to <see cref="EventBusOptions.OnUndelivered"/>.
    /// </summary>
    /// <typeparam name="TCommand">The command type (an <see cref="ICommand"/> or <see cref="ICommand{TResult}"/>).</typeparam>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels an enqueue that waits for room in a full queue.</param>
    /// <returns>A task that completes when the queue has accepted the command.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><typeparamref name="TCommand"/> is not a command.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for <typeparamref name="TCommand"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask EnqueueAsync<TCommand>(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default)
        where TCommand : class;
}
