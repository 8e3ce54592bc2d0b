namespace EventBus.Benchmarks;

/// <summary>
/// W2: broadcast to four handlers (four subscriptions of one topic). Each invocation publishes <see cref="N"/> events and
/// awaits all 4 x <see cref="N"/> deliveries; the reported time and bytes are per published event.
/// Baseline: four bounded channels (capacity 1024), each fed every event, each drained by its own reader loop;
/// <c>RawUnboundedChannels</c>: the same with unbounded channels.
/// Target: the bus at least as fast as the four bounded channels (Ratio at most 1.00), 0 B per event. The baseline is
/// noisy (readers that keep up make every write wake one); compare medians of several launches (<c>--launchCount 3</c>).
/// <c>EventBus_Publish</c>: four subscriptions (a buffer each). <c>EventBus_StreamGroups</c>: one stream topic (no retention limit:
/// an event is kept until every group committed past it) read by four exclusive consumer groups (one worker each, singleton
/// handlers, default options: capacity 1024 like the channels, commit after every event): the event is appended once to the
/// shared log and each group reads it with its own cursor.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("W2", "Streams")]
public class BroadcastFourHandlers()
    : EventWorkload(N, new BroadcastHandler1(), new BroadcastHandler2(), new BroadcastHandler3(), new BroadcastHandler4())
{
    /// <summary>Events per invocation (each delivered four times).</summary>
    public const int N = 100_000;

    [GlobalSetup(Target = nameof(RawChannels_Baseline))]
    public void SetupRawChannels() => StartRawChannels();

    [GlobalCleanup(Target = nameof(RawChannels_Baseline))]
    public Task CleanupRawChannels() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(RawUnboundedChannels))]
    public void SetupRawUnboundedChannels() => StartRawChannels(bounded: false);

    [GlobalCleanup(Target = nameof(RawUnboundedChannels))]
    public Task CleanupRawUnboundedChannels() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(EventBus_Publish))]
    public Task SetupEventBus() =>
        StartBusAsync(bus => bus
            .AddEventHandler<BenchEvent, BroadcastHandler1>(ServiceLifetime.Singleton)
            .AddEventHandler<BenchEvent, BroadcastHandler2>(ServiceLifetime.Singleton)
            .AddEventHandler<BenchEvent, BroadcastHandler3>(ServiceLifetime.Singleton)
            .AddEventHandler<BenchEvent, BroadcastHandler4>(ServiceLifetime.Singleton));

    [GlobalCleanup(Target = nameof(EventBus_Publish))]
    public Task CleanupEventBus() => StopBusAsync();

    [GlobalSetup(Target = nameof(EventBus_StreamGroups))]
    public Task SetupStreamGroups() =>
        StartBusAsync(bus => bus
            .AddStreamGroup<BenchEvent, BroadcastHandler1>("group-1", lifetime: ServiceLifetime.Singleton)
            .AddStreamGroup<BenchEvent, BroadcastHandler2>("group-2", lifetime: ServiceLifetime.Singleton)
            .AddStreamGroup<BenchEvent, BroadcastHandler3>("group-3", lifetime: ServiceLifetime.Singleton)
            .AddStreamGroup<BenchEvent, BroadcastHandler4>("group-4", lifetime: ServiceLifetime.Singleton));

    [GlobalCleanup(Target = nameof(EventBus_StreamGroups))]
    public Task CleanupStreamGroups() => StopBusAsync();

    // The raw rows have a loop of their own: every event is written to each of the four channels in turn.
    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public Task RawChannels_Baseline() => WriteToFourChannelsAsync();

    [Benchmark(OperationsPerInvoke = N)]
    public Task RawUnboundedChannels() => WriteToFourChannelsAsync();

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_Publish() => PublishBatchAsync(new BusPublisher(Bus.Events));

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_StreamGroups() => PublishBatchAsync(new BusPublisher(Bus.Events));

    private async Task WriteToFourChannelsAsync()
    {
        ArmDeliveries();
        var (writer1, writer2, writer3, writer4) = (RawWriter(0), RawWriter(1), RawWriter(2), RawWriter(3));
        foreach (var @event in Events)
        {
            await writer1.WriteAsync(@event);
            await writer2.WriteAsync(@event);
            await writer3.WriteAsync(@event);
            await writer4.WriteAsync(@event);
        }

        await WhenDeliveredAsync();
    }
}
