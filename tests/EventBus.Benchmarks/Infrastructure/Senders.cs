namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// How one row sends its command and reads the result: the only part of the round-trip loop that differs between rows. A
/// row passes a struct that implements it to <see cref="CommandWorkload.RoundTripsAsync{TSender, TReply}"/>; the loop is
/// compiled once per struct, so both calls are direct (and inlinable), with no delegate or interface dispatch per round trip.
/// </summary>
/// <typeparam name="TReply">What the awaited send returns.</typeparam>
public interface IRoundTripSender<TReply>
{
    /// <summary>Sends the command (one round trip).</summary>
    /// <returns>The reply.</returns>
    ValueTask<TReply> SendAsync();

    /// <summary>Reads the handler's result from the reply.</summary>
    /// <param name="reply">The reply.</param>
    /// <returns>The result (42 for the command of every row).</returns>
    int ResultOf(TReply reply);
}

/// <summary>The raw baseline: a round trip through <see cref="RawCommandServer"/> (channel + completion source).</summary>
/// <param name="server">The server loop.</param>
/// <param name="command">The command.</param>
public readonly struct RawServerSender(RawCommandServer server, BenchCommand command) : IRoundTripSender<int>
{
    /// <inheritdoc />
    public ValueTask<int> SendAsync() => new(server.SendAsync(command));

    /// <inheritdoc />
    public int ResultOf(int reply) => reply;
}

/// <summary>The floor: the handler's <c>HandleAsync</c> called directly.</summary>
/// <param name="handler">The handler.</param>
/// <param name="command">The command.</param>
public readonly struct DirectSender(BenchCommandHandler handler, BenchCommand command) : IRoundTripSender<CommandResult<int>>
{
    /// <inheritdoc />
    public ValueTask<CommandResult<int>> SendAsync() => handler.HandleAsync(command, default, CancellationToken.None);

    /// <inheritdoc />
    public int ResultOf(CommandResult<int> reply) => reply.Value;
}

/// <summary>The bus: <see cref="ICommandBus.SendAsync{TResult}(ICommand{TResult}, CancellationToken)"/> (the handler runs inline).</summary>
/// <param name="bus">The command side of the bus.</param>
/// <param name="command">The command.</param>
public readonly struct BusSender(ICommandBus bus, BenchCommand command) : IRoundTripSender<CommandResult<int>>
{
    /// <inheritdoc />
    public ValueTask<CommandResult<int>> SendAsync() => bus.SendAsync(command);

    /// <inheritdoc />
    public int ResultOf(CommandResult<int> reply) => reply.Value;
}

/// <summary>
/// The bus's typed sender: <see cref="ICommandSender{TCommand, TResult}.InvokeAsync(TCommand, CancellationToken)"/>, bound to the
/// command's route when it was resolved (no lookup by type per send), the value itself back; a rejection throws.
/// </summary>
/// <param name="sender">The typed sender.</param>
/// <param name="command">The command.</param>
public readonly struct TypedInvoker(ICommandSender<BenchCommand, int> sender, BenchCommand command) : IRoundTripSender<int>
{
    /// <inheritdoc />
    public ValueTask<int> SendAsync() => sender.InvokeAsync(command);

    /// <inheritdoc />
    public int ResultOf(int reply) => reply;
}

/// <summary>
/// The bus's queued path: <see cref="ICommandSender{TCommand, TResult}.SendQueuedAsync(TCommand, PublishOptions?, CancellationToken)"/>
/// (a queue worker handles the command; the sender awaits the outcome), the counterpart of the raw channel + completion source.
/// </summary>
/// <param name="sender">The command's typed sender.</param>
/// <param name="command">The command.</param>
public readonly struct BusQueuedSender(ICommandSender<BenchCommand, int> sender, BenchCommand command) : IRoundTripSender<CommandResult<int>>
{
    /// <inheritdoc />
    public ValueTask<CommandResult<int>> SendAsync() => sender.SendQueuedAsync(command);

    /// <inheritdoc />
    public int ResultOf(CommandResult<int> reply) => reply.Value;
}
