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

    /// <remarks>
    /// A completed send returns the value itself, not the route's <see cref="CommandResult{TResult}"/>: a
    /// <see cref="ValueTask{TResult}"/> of a small value comes back to the caller in registers, where one of the 32-byte result
    /// comes back through memory and the caller's copy of it stalls (see <c>docs/benchmarks.md</c>, W4 inline). The body is
    /// written out rather than shared through a generic helper, with which the runtime built the returned task on the stack and
    /// read it back with one wider load, the same kind of stall.
    /// </remarks>
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

    public ValueTask<CommandResult<TResult>> SendQueuedAsync(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        bus.SendQueuedAsync(command, options, cancellationToken);

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

    public ValueTask<CommandResult> SendQueuedAsync(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        bus.SendQueuedAsync(command, options, cancellationToken);
}
