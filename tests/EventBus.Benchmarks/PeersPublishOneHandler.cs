namespace EventBus.Benchmarks;

/// <summary>
/// W1 against the peers: one publisher, one handler, with Wolverine 6.62.0 (buffered local queue, one listener) and
/// MassTransit 8.5.12 (in-memory transport, one consumer at a time) beside the raw channel and the bus. The batch is smaller
/// than in <see cref="PublishOneHandler"/> (<see cref="N"/> events) so that the slowest peer's invocation stays well under a second;
/// the reported time and bytes are per event. Each row runs in its own process and starts only its own contender.
/// </summary>
[MemoryDiagnoser]
public class PeersPublishOneHandler() : EventWorkload(N, new SingleHandler())
{
    /// <summary>Events per invocation.</summary>
    public const int N = 10_000;

    private WolverinePeer? _wolverine;
    private MassTransitPeer? _massTransit;

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel() => StartRawChannels();

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public Task CleanupRawChannel() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(EventBus_Publish))]
    public Task SetupEventBus() => StartBusAsync(bus => bus.AddEventHandler<BenchEvent, SingleHandler>(ServiceLifetime.Singleton));

    [GlobalCleanup(Target = nameof(EventBus_Publish))]
    public Task CleanupEventBus() => StopBusAsync();

    [GlobalSetup(Target = nameof(Wolverine_Publish))]
    public async Task SetupWolverine() => _wolverine = await StartPeerAsync(WolverinePeer.StartAsync);

    [GlobalCleanup(Target = nameof(Wolverine_Publish))]
    public async Task CleanupWolverine() => await _wolverine!.DisposeAsync();

    [GlobalSetup(Target = nameof(MassTransit_Publish))]
    public async Task SetupMassTransit() => _massTransit = await StartPeerAsync(MassTransitPeer.StartAsync);

    [GlobalCleanup(Target = nameof(MassTransit_Publish))]
    public async Task CleanupMassTransit() => await _massTransit!.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public Task RawChannel_Baseline() => PublishBatchAsync(new ChannelPublisher(RawWriter(0)));

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_Publish() => PublishBatchAsync(new BusPublisher(Bus.Events));

    [Benchmark(OperationsPerInvoke = N)]
    public Task Wolverine_Publish() => PublishBatchAsync(new WolverinePublisher(_wolverine!.Bus));

    [Benchmark(OperationsPerInvoke = N)]
    public Task MassTransit_Publish() => PublishBatchAsync(new MassTransitPublisher(_massTransit!.Bus));
}
