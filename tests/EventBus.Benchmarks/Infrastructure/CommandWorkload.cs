namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// The base of the round-trip workloads (W4 and W4 against the peers). It owns what their rows share: the command and its
/// handler, the raw baseline (<see cref="RawCommandServer"/>), the bus, and the measured loop itself — <c>N</c> round trips in
/// sequence, each awaited, with a check that every one returned the handler's result.
/// </summary>
/// <remarks>
/// A derived class declares its rows (<c>[Benchmark]</c> methods with its own constant <c>OperationsPerInvoke</c>, which call
/// <see cref="RoundTripsAsync{TSender, TReply}"/>) and wires each row to its own setup and cleanup with
/// <c>[GlobalSetup(Target = ...)]</c> and <c>[GlobalCleanup(Target = ...)]</c>, whose methods call the start and stop
/// helpers here (or start the row's peer).
/// </remarks>
/// <param name="roundTrips">Round trips per invocation: the derived class's <c>N</c>, its <c>OperationsPerInvoke</c>.</param>
public abstract class CommandWorkload(int roundTrips)
{
    private RawCommandServer? _server;
    private BusFixture? _bus;

    /// <summary>Gets the command every row sends: <c>Value = 41</c>, so every round trip returns 42.</summary>
    protected BenchCommand Command { get; } = new(41);

    /// <summary>Gets the command handler: the bus resolves this very instance (a singleton); the direct-call row calls it.</summary>
    protected BenchCommandHandler Handler { get; } = new();

    /// <summary>Gets the server loop started by <see cref="StartRawServer"/>.</summary>
    protected RawCommandServer RawServer => _server!;

    /// <summary>Gets the bus started by <see cref="StartBusAsync"/>.</summary>
    protected BusFixture Bus => _bus!;

    /// <summary>Setup of the raw-channel row: starts the server loop.</summary>
    protected void StartRawServer() => _server = new RawCommandServer();

    /// <summary>Cleanup of the raw-channel row: completes the server's channel and waits for its loop to end.</summary>
    /// <returns>A task that completes when the loop has ended.</returns>
    protected async Task StopRawServerAsync() => await _server!.DisposeAsync();

    /// <summary>Setup of a bus row: builds and starts a bus with <see cref="Handler"/> as the command's singleton handler.</summary>
    /// <param name="stampInlineSends">The bus's <see cref="EventBusOptions.StampInlineSends"/>.</param>
    /// <returns>A task that completes when the bus has started.</returns>
    protected async Task StartBusAsync(bool stampInlineSends = true) =>
        _bus = await BusFixture.StartAsync(
            [Handler],
            bus => bus
                .Configure(o => o.StampInlineSends = stampInlineSends)
                .AddCommandHandler<BenchCommand, int, BenchCommandHandler>(ServiceLifetime.Singleton));

    /// <summary>Cleanup of the bus row: stops (drains) and disposes the bus.</summary>
    /// <returns>A task that completes when the bus is disposed.</returns>
    protected async Task StopBusAsync() => await _bus!.DisposeAsync();

    /// <summary>The measured loop of every row: <c>N</c> round trips in sequence, each awaited.</summary>
    /// <typeparam name="TSender">The row's sender; a struct, so that this loop is compiled for it alone.</typeparam>
    /// <typeparam name="TReply">What the row's awaited send returns.</typeparam>
    /// <param name="sender">Sends the command to the row's contender and reads the result from the reply.</param>
    /// <returns>The sum of the results, checked to be <c>N</c> x 42.</returns>
    protected async Task<int> RoundTripsAsync<TSender, TReply>(TSender sender)
        where TSender : struct, IRoundTripSender<TReply>
    {
        var sum = 0;
        for (var i = 0; i < roundTrips; i++)
        {
            sum += sender.ResultOf(await sender.SendAsync());
        }

        return Check(sum);
    }

    // Every round trip must have returned the handler's result: 42 each.
    private int Check(int sum) =>
        sum == roundTrips * 42 ? sum : throw new InvalidOperationException($"The round trips returned a total of {sum}; {roundTrips * 42} was expected.");
}
