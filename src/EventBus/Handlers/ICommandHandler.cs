namespace EventBus;

/// <summary>
/// Handles commands of type <typeparamref name="TCommand"/> that return no value. Exactly one handler may exist per command type.
/// </summary>
/// <typeparam name="TCommand">The command type.</typeparam>
public interface ICommandHandler<in TCommand>
    where TCommand : ICommand
{
    /// <summary>Handles one command.</summary>
    /// <param name="command">The command.</param>
    /// <param name="context">The envelope of the command.</param>
    /// <param name="cancellationToken">The sender's cancellation token (or the bus's stop token for enqueued commands).</param>
    /// <returns><see cref="CommandResult.Accepted"/>, or a rejection made with <see cref="CommandResult.Reject(string, string?)"/>.</returns>
    ValueTask<CommandResult> HandleAsync(TCommand command, MessageContext context, CancellationToken cancellationToken);
}

/// <summary>
/// Handles commands of type <typeparamref name="TCommand"/> that return a <typeparamref name="TResult"/>. Exactly one handler may exist per command type.
/// </summary>
/// <typeparam name="TCommand">The command type.</typeparam>
/// <typeparam name="TResult">The result type.</typeparam>
public interface ICommandHandler<in TCommand, TResult>
    where TCommand : ICommand<TResult>
{
    /// <summary>Handles one command.</summary>
    /// <param name="command">The command.</param>
    /// <param name="context">The envelope of the command.</param>
    /// <param name="cancellationToken">The sender's cancellation token (or the bus's stop token for enqueued commands).</param>
    /// <returns>The result (a <typeparamref name="TResult"/> converts implicitly), or a rejection made with <see cref="CommandResult.Reject(string, string?)"/>.</returns>
    ValueTask<CommandResult<TResult>> HandleAsync(TCommand command, MessageContext context, CancellationToken cancellationToken);
}
