namespace EventBus;

/// <summary>
/// The outcome of a send of a command that returns no value, whose route runs with <see cref="VoidResult"/>: as the
/// <see cref="CommandResult"/> of a <c>SendAsync</c>, or as the task of an <c>InvokeAsync</c> (a rejection faults it).
/// </summary>
internal static class VoidOutcome
{
    public static CommandResult ToResult(CommandResult<VoidResult> result) => result.IsAccepted ? CommandResult.Accepted : result.Rejection;

    public static ValueTask<CommandResult> ToResult(ValueTask<CommandResult<VoidResult>> pending)
    {
        return pending.IsCompletedSuccessfully ? ValueTask.FromResult(ToResult(pending.Result)) : AwaitResult(pending);

        static async ValueTask<CommandResult> AwaitResult(ValueTask<CommandResult<VoidResult>> pending) => ToResult(await pending.ConfigureAwait(false));
    }

    /// <param name="pending">The route's send.</param>
    /// <param name="command">The command, whose type the <see cref="CommandRejectedException"/> of a rejection names (read only
    /// then, off the path of an accepted send).</param>
    public static ValueTask ToInvoke<TCommand>(ValueTask<CommandResult<VoidResult>> pending, TCommand command)
        where TCommand : ICommand
    {
        if (!pending.IsCompletedSuccessfully)
        {
            return AwaitInvoke(pending, command);
        }

        var result = pending.Result;
        return result.IsAccepted ? default : ValueTask.FromException(Rejected(command, result.Rejection));

        static async ValueTask AwaitInvoke(ValueTask<CommandResult<VoidResult>> pending, TCommand command)
        {
            var result = await pending.ConfigureAwait(false);
            if (!result.IsAccepted)
            {
                throw Rejected(command, result.Rejection);
            }
        }
    }

    private static CommandRejectedException Rejected<TCommand>(TCommand command, CommandRejection rejection)
        where TCommand : ICommand =>
        new(command.GetType(), rejection);
}
