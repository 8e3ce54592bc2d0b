using System.Threading.Channels;

namespace EventBus.Benchmarks;

/// <summary>
/// A key-ordered consumer group: one group with <see cref="Workers"/> workers on a stream, events carrying
/// <see cref="Keys"/> partition keys (event <c>i</c> has key <c>i % 8</c>). Events of one key are handled one at a time in
/// order, different keys in parallel. Each invocation publishes <see cref="N"/> events and awaits their <see cref="N"/>
/// deliveries; the reported time and bytes are per event.
/// </summary>
/// <remarks>
/// <para><c>RawChannels_Baseline</c> is the hand-written equivalent of a key-ordered group: <see cref="Workers"/> bounded
/// single-reader channels, one reader loop each, and a publisher that hashes each event's key (FNV-1a, the bus's mapping) to
/// pick the channel, so a key's events stay in order in one channel while different keys are handled in parallel. The
/// channels get 1024 / <see cref="Workers"/> = 256 places each, so the baseline holds at most 1024 unhandled events in
/// total, as the group does (its capacity, default 1024, bounds the events published past its committed offset). All the
/// reader loops call the same handler instance, as the group's workers do, so both rows count down one shared signal.</para>
/// <para>The keys are picked so that exactly two map to each worker and consecutive events go to different workers (see
/// <see cref="PartitionKeys.Balanced"/>): both rows spread the same load over the same workers in every run.</para>
/// <para>What the bus adds over the baseline: the append to the log, a dispatcher that reads the log and hands each event to
/// its key's worker, and the completion window that commits the lowest offset not yet completed.</para>
/// </remarks>
[MemoryDiagnoser]
[BenchmarkCategory("Streams")]
public class StreamKeyOrderedGroup() : EventWorkload(N, new KeyOrderedHandler())
{
    /// <summary>Events per invocation.</summary>
    public const int N = 100_000;

    /// <summary>Workers of the group, and channels of the baseline.</summary>
    public const int Workers = 4;

    /// <summary>Distinct partition keys.</summary>
    public const int Keys = 8;

    private readonly string[] _keys = PartitionKeys.Balanced(Workers, Keys / Workers);
    private ChannelWriter<BenchEvent>[] _writers = [];
    private PublishOptions[] _options = [];

    [GlobalSetup(Target = nameof(RawChannels_Baseline))]
    public void SetupRawChannels()
    {
        StartRawChannels(channelsPerHandler: Workers, capacity: RawChannel.Capacity / Workers);
        _writers = [.. Enumerable.Range(0, Workers).Select(RawWriter)];
    }

    [GlobalCleanup(Target = nameof(RawChannels_Baseline))]
    public Task CleanupRawChannels() => StopRawChannelsAsync();

    [GlobalSetup(Target = nameof(EventBus_KeyOrderedGroup))]
    public Task SetupKeyOrderedGroup()
    {
        _options = Array.ConvertAll(_keys, key => new PublishOptions { PartitionKey = key });
        return StartBusAsync(bus => bus
            .AddStream<BenchEvent>()
            .AddStreamGroup<BenchEvent, KeyOrderedHandler>("keyed", group => group.Workers = Workers, ServiceLifetime.Singleton));
    }

    [GlobalCleanup(Target = nameof(EventBus_KeyOrderedGroup))]
    public Task CleanupKeyOrderedGroup() => StopBusAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public Task RawChannels_Baseline() => PublishBatchAsync(new KeyRoutedChannelPublisher(_writers, _keys));

    [Benchmark(OperationsPerInvoke = N)]
    public Task EventBus_KeyOrderedGroup() => PublishBatchAsync(new KeyedBusPublisher(Bus.Events, _options));
}
