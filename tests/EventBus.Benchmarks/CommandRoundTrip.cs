namespace EventBus.Benchmarks;

/// <summary>
/// W4: command round trip — send a command, have its handler run, await the result — <see cref="N"/> times in sequence per
/// invocation; the reported time and bytes are per round trip.
/// Baseline: a channel + <see cref="TaskCompletionSource{TResult}"/> round trip to a server loop. Other rows: a direct call of the
/// handler (the floor); the bus's inline path, which runs the handler on the caller's flow: <c>ICommandBus.SendAsync</c> (the
/// outcome as a <see cref="CommandResult{TResult}"/>) once with the default options and once with
/// <see cref="EventBusOptions.StampInlineSends"/> off, which skips the clock read and the new id; the typed sender's
/// <c>InvokeAsync</c> (<see cref="ICommandSender{TCommand, TResult}"/>, bound to the command's route when resolved; the value itself,
/// a rejection throws) with stamping off; the source-generated Mediator 3.0.2 <c>Send</c> (inline, singleton handler; the value
/// itself, as <c>InvokeAsync</c>); and the typed sender's <c>SendQueuedAsync</c> (a queue worker handles the command while the
/// sender awaits the outcome: the same shape as the baseline).
/// Targets: the inline path at most 1.5x Mediator (EventBus_TypedInvokeUnstamped over Mediator_Send); the queued send at most
/// 1.5x the baseline (EventBus_SendQueued); at most one small allocation per round trip.
/// </summary>
[MemoryDiagnoser]
public class CommandRoundTrip() : CommandWorkload(N)
{
    /// <summary>Round trips per invocation.</summary>
    public const int N = 10_000;

    private readonly MediatorPing _ping = new(41);
    private MediatorPeer? _mediator;
    private ICommandSender<BenchCommand, int>? _typed;

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel() => StartRawServer();

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public Task CleanupRawChannel() => StopRawServerAsync();

    [GlobalSetup(Target = nameof(EventBus_Send))]
    public Task SetupEventBus() => StartBusAsync();

    [GlobalSetup(Target = nameof(EventBus_SendUnstamped))]
    public Task SetupUnstampedBus() => StartBusAsync(stampInlineSends: false);

    [GlobalSetup(Target = nameof(EventBus_TypedInvokeUnstamped))]
    public async Task SetupTypedSender()
    {
        await StartBusAsync(stampInlineSends: false);
        _typed = Bus.Sender<BenchCommand, int>();
    }

    [GlobalSetup(Target = nameof(EventBus_SendQueued))]
    public async Task SetupQueuedSender()
    {
        await StartBusAsync();
        _typed = Bus.Sender<BenchCommand, int>();
    }

    [GlobalCleanup(Targets = [nameof(EventBus_Send), nameof(EventBus_SendUnstamped), nameof(EventBus_TypedInvokeUnstamped), nameof(EventBus_SendQueued)])]
    public Task CleanupEventBus() => StopBusAsync();

    [GlobalSetup(Target = nameof(Mediator_Send))]
    public void SetupMediator() => _mediator = new MediatorPeer();

    [GlobalCleanup(Target = nameof(Mediator_Send))]
    public async Task CleanupMediator() => await _mediator!.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public Task<int> RawChannel_Baseline() => RoundTripsAsync<RawServerSender, int>(new(RawServer, Command));

    [Benchmark(OperationsPerInvoke = N)]
    public Task<int> DirectCall() => RoundTripsAsync<DirectSender, CommandResult<int>>(new(Handler, Command));

    [Benchmark(OperationsPerInvoke = N)]
    public Task<int> EventBus_Send() => RoundTripsAsync<BusSender, CommandResult<int>>(new(Bus.Commands, Command));

    [Benchmark(OperationsPerInvoke = N)]
    public Task<int> EventBus_SendUnstamped() => RoundTripsAsync<BusSender, CommandResult<int>>(new(Bus.Commands, Command));

    [Benchmark(OperationsPerInvoke = N)]
    public Task<int> EventBus_TypedInvokeUnstamped() => RoundTripsAsync<TypedInvoker, int>(new(_typed!, Command));

    [Benchmark(OperationsPerInvoke = N)]
    public Task<int> EventBus_SendQueued() => RoundTripsAsync<BusQueuedSender, CommandResult<int>>(new(_typed!, Command));

    [Benchmark(OperationsPerInvoke = N)]
    public Task<int> Mediator_Send() => RoundTripsAsync<MediatorSender, int>(new(_mediator!, _ping));
}
