namespace EventBus.Benchmarks;

/// <summary>
/// W1: one publisher, one handler. Each invocation publishes a batch of <see cref="N"/> preallocated events and awaits
/// their delivery to the handler; the reported time and bytes are per event.
/// Baseline: a bounded <see cref="System.Threading.Channels.Channel{T}"/> (capacity 1024, as the bus's default buffer) and
/// one reader loop calling the handler directly; <c>RawUnboundedChannel</c>: the same with an unbounded channel.
/// Target: the bus at most 1.5x the bounded channel's time per event and at most 3x the unbounded one's, 0 B per event.
/// <c>EventBus_StreamGroup</c>: the same on a stream (streams issue): the event is appended to the topic's log and one exclusive
/// consumer group (one worker, singleton handler, default options: capacity 1024, commit after every event) reads it back.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("W1", "Streams")]
public class PublishOneHandler() : EventWorkload(N, new SingleHandler())
{
    /// <summary>Events per invocation.</summary>
    public const int N = 100_000;

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel() => StartRawChannels();

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public Task CleanupRawChannel() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(RawUnboundedChannel))]
    public void SetupRawUnboundedChannel() => StartRawChannels(bounded: false);

    [GlobalCleanup(Target = nameof(RawUnboundedChannel))]
    public Task CleanupRawUnboundedChannel() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(EventBus_Publish))]
    public Task SetupEventBus() => StartBusAsync(bus => bus.AddEventHandler<BenchEvent, SingleHandler>(ServiceLifetime.Singleton));

    [GlobalCleanup(Target = nameof(EventBus_Publish))]
    public Task CleanupEventBus() => StopBusAsync();

    [GlobalSetup(Target = nameof(EventBus_StreamGroup))]
    public Task SetupStreamGroup() =>
        StartBusAsync(bus => bus.AddStreamGroup<BenchEvent, SingleHandler>("group", lifetime: ServiceLifetime.Singleton));

    [GlobalCleanup(Target = nameof(EventBus_StreamGroup))]
    public Task CleanupStreamGroup() => StopBusAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public Task RawChannel_Baseline() => PublishBatchAsync(new ChannelPublisher(RawWriter(0)));

    [Benchmark(OperationsPerInvoke = N)]
    public Task RawUnboundedChannel() => PublishBatchAsync(new ChannelPublisher(RawWriter(0)));

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_Publish() => PublishBatchAsync(new BusPublisher(Bus.Events));

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_StreamGroup() => PublishBatchAsync(new BusPublisher(Bus.Events));
}
