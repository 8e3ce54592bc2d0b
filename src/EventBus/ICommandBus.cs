namespace EventBus;

/// <summary>Sends commands to their single handler. Resolve it from DI; it is a thread-safe singleton.</summary>
/// <remarks>
/// <c>SendAsync</c> runs the handler on the caller's flow, in its own DI scope, through the middleware pipeline, and returns
/// the outcome: a rejection is a normal result. <c>InvokeAsync</c> is the same but throws <see cref="CommandRejectedException"/>
/// on rejection. <c>SendQueuedAsync</c> puts the command on its queue and awaits the outcome: one of the bus's workers handles
/// it, with the queue's retries, dead letters and backpressure, isolated from the caller. <c>EnqueueAsync</c> puts the command
/// on its queue without waiting for the outcome (fire and forget).
/// An exception thrown by the handler propagates to <c>SendAsync</c> and <c>InvokeAsync</c> callers, and to <c>SendQueuedAsync</c>
/// callers once the queue's attempts are used up.
/// </remarks>
public interface ICommandBus
{
    /// <summary>Sends a command that returns no value and awaits its outcome.</summary>
    /// <param name="command">The command.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>Accepted, or the handler's rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for the command's type.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask<CommandResult> SendAsync(ICommand command, CancellationToken cancellationToken = default);

    /// <summary>Sends a command that returns a value and awaits its outcome.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="command">The command.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>The handler's result, or its rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for the command's type.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask<CommandResult<TResult>> SendAsync<TResult>(ICommand<TResult> command, CancellationToken cancellationToken = default);

    /// <summary>Sends a command that returns no value, with envelope values (correlation, causation, headers), and awaits its outcome.</summary>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values (use <see cref="PublishOptions.CausedBy(in MessageContext)"/> inside a handler), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>Accepted, or the handler's rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for the command's type.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask<CommandResult> SendAsync(ICommand command, PublishOptions? options, CancellationToken cancellationToken = default);

    /// <summary>Sends a command that returns a value, with envelope values (correlation, causation, headers), and awaits its outcome.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values (use <see cref="PublishOptions.CausedBy(in MessageContext)"/> inside a handler), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>The handler's result, or its rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for the command's type.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask<CommandResult<TResult>> SendAsync<TResult>(ICommand<TResult> command, PublishOptions? options, CancellationToken cancellationToken = default);

    /// <summary>Sends a command that returns no value; a rejection throws.</summary>
    /// <param name="command">The command.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>A task that completes when the handler accepted the command.</returns>
    /// <exception cref="CommandRejectedException">The handler rejected the command.</exception>
    ValueTask InvokeAsync(ICommand command, CancellationToken cancellationToken = default);

    /// <summary>Sends a command that returns a value; a rejection throws.</summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="command">The command.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>The handler's result.</returns>
    /// <exception cref="CommandRejectedException">The handler rejected the command.</exception>
    ValueTask<TResult> InvokeAsync<TResult>(ICommand<TResult> command, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts a command on its queue and awaits its outcome: one of the bus's workers handles it (<see cref="DeliveryMode.Queue"/>),
    /// retrying per the queue's <see cref="RedeliveryOptions"/>; the result or the rejection comes back to the caller.
    /// </summary>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for room in a full queue and for the outcome. A command already on the
    /// queue stays there: cancelling the wait does not withdraw it.</param>
    /// <returns>The handler's result, or its rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for the command's type.</exception>
    /// <exception cref="BufferFullException">The queue is full and its policy is <see cref="FullPolicy.FailFast"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the outcome.</exception>
    /// <exception cref="Exception">The handler's exception, when every attempt failed (the command is dead-lettered); an
    /// <see cref="InvalidOperationException"/> saying why when it was not handled otherwise (nacked with no attempts left, dropped
    /// by the queue's full policy, or cut short by the bus's stop).</exception>
    ValueTask<CommandResult<TResult>> SendQueuedAsync<TResult>(ICommand<TResult> command, PublishOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts a command that returns no value on its queue and awaits its outcome: one of the bus's workers handles it, retrying per
    /// the queue's <see cref="RedeliveryOptions"/>; acceptance or the rejection comes back to the caller.
    /// </summary>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for room in a full queue and for the outcome. A command already on the
    /// queue stays there: cancelling the wait does not withdraw it.</param>
    /// <returns>Accepted, or the handler's rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for the command's type.</exception>
    /// <exception cref="BufferFullException">The queue is full and its policy is <see cref="FullPolicy.FailFast"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the outcome.</exception>
    /// <exception cref="Exception">The handler's exception, when every attempt failed (the command is dead-lettered); an
    /// <see cref="InvalidOperationException"/> saying why when it was not handled otherwise.</exception>
    ValueTask<CommandResult> SendQueuedAsync(ICommand command, PublishOptions? options = null, CancellationToken cancellationToken = default);

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
