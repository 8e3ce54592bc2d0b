namespace EventBus.Benchmarks;

/// <summary>
/// W3: four competing workers. One subscription in <see cref="DeliveryMode.Queue"/> mode with 4 workers; each event is
/// handled once by one of them. Each invocation publishes <see cref="N"/> events and awaits their <see cref="N"/> deliveries.
/// Baseline: one bounded channel (capacity 1024) drained by four reader loops; <c>RawUnboundedChannel</c>: the same with an
/// unbounded channel. Target: the bus at most 2x the bounded channel's time per event, 0 B per event.
/// </summary>
[MemoryDiagnoser]
public class FourCompetingWorkers() : EventWorkload(N, new QueueHandler())
{
    /// <summary>Events per invocation.</summary>
    public const int N = 100_000;

    /// <summary>Competing workers (reader loops).</summary>
    public const int Workers = 4;

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel() => StartRawChannels(readersPerChannel: Workers);

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public Task CleanupRawChannel() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(RawUnboundedChannel))]
    public void SetupRawUnboundedChannel() => StartRawChannels(readersPerChannel: Workers, bounded: false);

    [GlobalCleanup(Target = nameof(RawUnboundedChannel))]
    public Task CleanupRawUnboundedChannel() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(EventBus_Publish))]
    public Task SetupEventBus() =>
        StartBusAsync(bus => bus
            .AddEventHandler<BenchEvent, QueueHandler>(ServiceLifetime.Singleton)
            .ConfigureSubscription<QueueHandler>(options =>
            {
                options.Mode = DeliveryMode.Queue;
                options.Workers = Workers;
            }));

    [GlobalCleanup(Target = nameof(EventBus_Publish))]
    public Task CleanupEventBus() => StopBusAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public Task RawChannel_Baseline() => PublishBatchAsync(new ChannelPublisher(RawWriter(0)));

    [Benchmark(OperationsPerInvoke = N)]
    public Task RawUnboundedChannel() => PublishBatchAsync(new ChannelPublisher(RawWriter(0)));

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_Publish() => PublishBatchAsync(new BusPublisher(Bus.Events));
}
