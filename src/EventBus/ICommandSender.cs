namespace EventBus;

/// <summary>
/// Sends one command type, which returns a value, to its handler: inline (<c>SendAsync</c>, <c>InvokeAsync</c>) or through its
/// queue (<c>SendQueuedAsync</c>), for a command type known where the sender is written. Resolve it from DI (it is a thread-safe
/// singleton) and keep it.
/// </summary>
/// <remarks>
/// The sender finds its command's handler once, when it is resolved, so a send skips the lookup by type that
/// <see cref="ICommandBus"/> does on every call; a struct command is not boxed. Otherwise a send is the same: the handler runs on
/// the caller's flow, in its own DI scope when its registration needs one, through the middleware pipeline, and a rejection is
/// the result of <see cref="SendAsync"/> or the exception of <see cref="InvokeAsync"/>.
/// <para>Resolving the sender throws <see cref="UnknownMessageTypeException"/> when no handler is registered for
/// <typeparamref name="TCommand"/>, and <see cref="ArgumentException"/> when its handler returns a type other than
/// <typeparamref name="TResult"/> (a command type can implement <see cref="ICommand{TResult}"/> for two results).</para>
/// </remarks>
/// <typeparam name="TCommand">The command type: the exact type the handler is registered for.</typeparam>
/// <typeparam name="TResult">The handler's result type.</typeparam>
public interface ICommandSender<TCommand, TResult>
    where TCommand : ICommand<TResult>
{
    /// <summary>Sends a command and awaits its outcome.</summary>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values (use <see cref="PublishOptions.CausedBy(in MessageContext)"/> inside a handler), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>The handler's result, or its rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask<CommandResult<TResult>> SendAsync(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Sends a command and returns the handler's result; a rejection throws.</summary>
    /// <param name="command">The command.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>The handler's result.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    /// <exception cref="CommandRejectedException">The handler rejected the command.</exception>
    ValueTask<TResult> InvokeAsync(TCommand command, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts a command on its queue and awaits its outcome: one of the bus's workers handles it (<see cref="DeliveryMode.Queue"/>,
    /// or the mode its handler is registered with), retrying per the queue's <see cref="RedeliveryOptions"/>; the result or the
    /// rejection comes back to the caller.
    /// </summary>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for room in a full queue and for the outcome. A command already on the
    /// queue stays there: cancelling the wait does not withdraw it.</param>
    /// <returns>The handler's result, or its rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="BufferFullException">The queue is full and its policy is <see cref="FullPolicy.FailFast"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the outcome.</exception>
    /// <exception cref="Exception">The handler's exception, when every attempt failed (the command is dead-lettered); an
    /// <see cref="InvalidOperationException"/> saying why when it was not handled otherwise (nacked with no attempts left, dropped
    /// by the queue's full policy, or cut short by the bus's stop).</exception>
    ValueTask<CommandResult<TResult>> SendQueuedAsync(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default);
}

/// <summary>
/// Sends one command type, which returns no value, to its handler: inline (<c>SendAsync</c>, <c>InvokeAsync</c>) or through its
/// queue (<c>SendQueuedAsync</c>), for a command type known where the sender is written. Resolve it from DI (it is a thread-safe
/// singleton) and keep it.
/// </summary>
/// <remarks>
/// As <see cref="ICommandSender{TCommand, TResult}"/>: the handler is found once, when the sender is resolved (which throws
/// <see cref="UnknownMessageTypeException"/> when none is registered for <typeparamref name="TCommand"/>).
/// </remarks>
/// <typeparam name="TCommand">The command type: the exact type the handler is registered for.</typeparam>
public interface ICommandSender<TCommand>
    where TCommand : ICommand
{
    /// <summary>Sends a command and awaits its outcome.</summary>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values (use <see cref="PublishOptions.CausedBy(in MessageContext)"/> inside a handler), or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>Accepted, or the handler's rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask<CommandResult> SendAsync(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Sends a command; a rejection throws.</summary>
    /// <param name="command">The command.</param>
    /// <param name="cancellationToken">Passed to the handler.</param>
    /// <returns>A task that completes when the handler accepted the command.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    /// <exception cref="CommandRejectedException">The handler rejected the command.</exception>
    ValueTask InvokeAsync(TCommand command, CancellationToken cancellationToken = default);

    /// <summary>
    /// Puts a command on its queue and awaits its outcome: one of the bus's workers handles it, retrying per the queue's
    /// <see cref="RedeliveryOptions"/>; acceptance or the rejection comes back to the caller.
    /// </summary>
    /// <param name="command">The command.</param>
    /// <param name="options">The envelope values, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the wait for room in a full queue and for the outcome. A command already on the
    /// queue stays there: cancelling the wait does not withdraw it.</param>
    /// <returns>Accepted, or the handler's rejection.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="command"/> is <see langword="null"/>.</exception>
    /// <exception cref="BufferFullException">The queue is full and its policy is <see cref="FullPolicy.FailFast"/>.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled before the outcome.</exception>
    /// <exception cref="Exception">The handler's exception, when every attempt failed (the command is dead-lettered); an
    /// <see cref="InvalidOperationException"/> saying why when it was not handled otherwise.</exception>
    ValueTask<CommandResult> SendQueuedAsync(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default);
}
