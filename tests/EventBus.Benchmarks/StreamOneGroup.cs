namespace EventBus.Benchmarks;

/// <summary>
/// W1 on a stream: one publisher, one consumer group — the cost of appending to the log and reading it back. Each invocation
/// publishes <see cref="N"/> events and awaits their delivery; the reported time and bytes are per event, as in
/// <see cref="PublishOneHandler"/>.
/// Baseline: one bounded channel (capacity 1024) and one reader loop calling the handler (W1's baseline).
/// <c>EventBus_Subscription</c>: W1's bus row (one broadcast subscription). <c>EventBus_StreamGroup</c>: a stream topic with one
/// exclusive consumer group (one worker, singleton handler, default options: capacity 1024, commit after every event).
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("Streams", "W1")]
public class StreamOneGroup() : EventWorkload(N, new SingleHandler())
{
    /// <summary>Events per invocation.</summary>
    public const int N = 100_000;

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel() => StartRawChannels();

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public Task CleanupRawChannel() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(EventBus_Subscription))]
    public Task SetupSubscription() => StartBusAsync(bus => bus.AddEventHandler<BenchEvent, SingleHandler>(ServiceLifetime.Singleton));

    [GlobalCleanup(Target = nameof(EventBus_Subscription))]
    public Task CleanupSubscription() => StopBusAsync();

    [GlobalSetup(Target = nameof(EventBus_StreamGroup))]
    public Task SetupStreamGroup() =>
        StartBusAsync(bus => bus
            .AddStream<BenchEvent>()
            .AddStreamGroup<BenchEvent, SingleHandler>("group", lifetime: ServiceLifetime.Singleton));

    [GlobalCleanup(Target = nameof(EventBus_StreamGroup))]
    public Task CleanupStreamGroup() => StopBusAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public Task RawChannel_Baseline() => PublishBatchAsync(new ChannelPublisher(RawWriter(0)));

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_Subscription() => PublishBatchAsync(new BusPublisher(Bus.Events));

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_StreamGroup() => PublishBatchAsync(new BusPublisher(Bus.Events));
}
