namespace EventBus;

/// <summary>
/// A typed sender: bound to its command's route when the container makes it, so a send calls the route directly (no lookup by
/// type, no generic virtual call, no boxing of a struct command).
/// </summary>
internal sealed class CommandSender<TCommand, TResult>(CommandBus bus) : ICommandSender<TCommand, TResult>
    where TCommand : ICommand<TResult>
{
    private readonly CommandRoute<TCommand, TResult> _route = bus.RouteOf<TCommand, TResult>();

    public ValueTask<CommandResult<TResult>> SendAsync(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        _route.SendTypedAsync(bus, command, options, cancellationToken);

    /// <remarks>The same shape as <see cref="CommandBus.InvokeAsync{TResult}(ICommand{TResult}, CancellationToken)"/>, for the same reason.</remarks>
    public ValueTask<TResult> InvokeAsync(TCommand command, CancellationToken cancellationToken = default)
    {
        var pending = _route.SendTypedAsync(bus, command, null, cancellationToken);
        if (!pending.IsCompletedSuccessfully)
        {
            return AwaitInvoke(pending);
        }

        var result = pending.Result;
        return result.IsAccepted ? new(result.Value) : ValueTask.FromException<TResult>(Rejected(result.Rejection));

        static async ValueTask<TResult> AwaitInvoke(ValueTask<CommandResult<TResult>> pending)
        {
            var result = await pending.ConfigureAwait(false);
            return result.IsAccepted ? result.Value : throw Rejected(result.Rejection);
        }
    }

    private static CommandRejectedException Rejected(CommandRejection rejection) => new(typeof(TCommand), rejection);
}

/// <summary>A typed sender of a command that returns no value (its route's result type is <see cref="VoidResult"/>).</summary>
internal sealed class CommandSender<TCommand>(CommandBus bus) : ICommandSender<TCommand>
    where TCommand : ICommand
{
    private readonly CommandRoute<TCommand, VoidResult> _route = bus.RouteOf<TCommand, VoidResult>();

    public ValueTask<CommandResult> SendAsync(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        VoidOutcome.ToResult(_route.SendTypedAsync(bus, command, options, cancellationToken));

    public ValueTask InvokeAsync(TCommand command, CancellationToken cancellationToken = default) =>
        VoidOutcome.ToInvoke(_route.SendTypedAsync(bus, command, null, cancellationToken), command);
}
