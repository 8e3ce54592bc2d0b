namespace EventBus.Benchmarks;

/// <summary>
/// Batch publish: <see cref="IEventBus.PublishBatchAsync{TEvent}"/> of <see cref="BatchSize"/> events at a time. Each invocation
/// publishes <see cref="N"/> events as <see cref="N"/> / <see cref="BatchSize"/> batches, in sequence, each awaited, and awaits
/// all <see cref="N"/> deliveries to the one handler; the reported time and bytes are per event (x <see cref="BatchSize"/> for a batch).
/// Baseline: one bounded channel (capacity 1024) and one reader loop, the publisher writing the same batches item by item
/// (a channel has no batch write). <c>EventBus_Batch_Subscription</c>: one broadcast subscription.
/// <c>EventBus_Batch_StreamGroup</c>: a stream topic with one exclusive consumer group (one worker, default options: capacity
/// 1024, commit after every event); each batch is appended contiguously to the log under one lock.
/// </summary>
[MemoryDiagnoser]
[BenchmarkCategory("Streams")]
public class StreamBatchPublish() : EventWorkload(N, new SingleHandler())
{
    /// <summary>Events per invocation.</summary>
    public const int N = 100_000;

    /// <summary>Events per published batch.</summary>
    public const int BatchSize = 100;

    private BenchEvent[][] _batches = [];

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel()
    {
        StartRawChannels();
        CreateBatches();
    }

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public Task CleanupRawChannel() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(EventBus_Batch_Subscription))]
    public async Task SetupSubscription()
    {
        await StartBusAsync(bus => bus.AddEventHandler<BenchEvent, SingleHandler>(ServiceLifetime.Singleton));
        CreateBatches();
    }

    [GlobalCleanup(Target = nameof(EventBus_Batch_Subscription))]
    public Task CleanupSubscription() => StopBusAsync();

    [GlobalSetup(Target = nameof(EventBus_Batch_StreamGroup))]
    public async Task SetupStreamGroup()
    {
        await StartBusAsync(bus => bus
            .AddStream<BenchEvent>()
            .AddStreamGroup<BenchEvent, SingleHandler>("group", lifetime: ServiceLifetime.Singleton));
        CreateBatches();
    }

    [GlobalCleanup(Target = nameof(EventBus_Batch_StreamGroup))]
    public Task CleanupStreamGroup() => StopBusAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public async Task RawChannel_Baseline()
    {
        ArmDeliveries();
        var writer = RawWriter(0);
        foreach (var batch in _batches)
        {
            foreach (var @event in batch)
            {
                await writer.WriteAsync(@event);
            }
        }

        await WhenDeliveredAsync();
    }

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_Batch_Subscription() => PublishBatchesAsync();

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_Batch_StreamGroup() => PublishBatchesAsync();

    private async Task PublishBatchesAsync()
    {
        ArmDeliveries();
        var bus = Bus.Events;
        foreach (var batch in _batches)
        {
            await bus.PublishBatchAsync(batch);
        }

        await WhenDeliveredAsync();
    }

    // The batches are slices of the preallocated events, created once: arrays, so the bus reads them through IReadOnlyList<T>
    // without a wrapper allocated per publish.
    private void CreateBatches() => _batches = Events.Chunk(BatchSize).ToArray();
}
