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
    /// <param name="commandType">The command's type, named by the <see cref="CommandRejectedException"/> of a rejection.</param>
    public static ValueTask ToInvoke(ValueTask<CommandResult<VoidResult>> pending, Type commandType)
    {
        if (!pending.IsCompletedSuccessfully)
        {
            return AwaitInvoke(pending, commandType);
        }

        var result = pending.Result;
        return result.IsAccepted ? default : ValueTask.FromException(new CommandRejectedException(commandType, result.Rejection));

        static async ValueTask AwaitInvoke(ValueTask<CommandResult<VoidResult>> pending, Type commandType)
        {
            var result = await pending.ConfigureAwait(false);
            if (!result.IsAccepted)
            {
                throw new CommandRejectedException(commandType, result.Rejection);
            }
        }
    }
}
