namespace EventBus.Benchmarks;

/// <summary>
/// Replay: reading the <see cref="N"/> events a stream retains (<see cref="StreamOptions.MaxCount"/> = <see cref="N"/>) from the
/// first, with <see cref="IEventStreams.ReadAsync{TEvent}"/> and <c>follow: false</c>, as a read model rebuilt at start-up
/// does. The stream is filled once in GlobalSetup; each invocation reads it all and sums the events' sequence numbers (checked).
/// The reported time and bytes are per event read.
/// Baseline: a <c>foreach</c> over a <see cref="List{T}"/> of the same events — the floor of any in-memory replay.
/// <c>List_AsyncEnumerable</c>: the same list behind an <c>async</c> iterator read with <c>await foreach</c>, which separates
/// the cost of the <see cref="IAsyncEnumerable{T}"/> pattern (a <c>MoveNextAsync</c> per item) from the cost of the log itself.
/// </summary>
/// <remarks>
/// There are no deliveries to wait for: the replay ends at the head as of the call. A replay that did not end would still fail
/// the run: the bus row passes a token that cancels after <see cref="Batch.Timeout"/>.
/// </remarks>
[MemoryDiagnoser]
[BenchmarkCategory("Streams")]
public class StreamReplay
{
    /// <summary>Events retained, all read by each invocation.</summary>
    public const int N = 100_000;

    private const long ExpectedSum = (long)N * (N - 1) / 2;

    private List<BenchEvent> _list = [];
    private BusFixture? _bus;
    private IEventStreams? _streams;

    [GlobalSetup(Targets = [nameof(List_Baseline), nameof(List_AsyncEnumerable)])]
    public void SetupList() => _list = [.. BenchMessages.Events(N)];

    [GlobalSetup(Target = nameof(EventBus_ReadAsync))]
    public async Task SetupStream()
    {
        _bus = await BusFixture.StartAsync([], bus => bus.AddStream<BenchEvent>(stream => stream.MaxCount = N));
        foreach (var @event in BenchMessages.Events(N))
        {
            await _bus.Events.PublishAsync(@event);
        }

        _streams = _bus.Streams;
        var info = _streams.GetStreamInfo<BenchEvent>();
        if (info.FirstOffset != 0 || info.RetainedCount != N)
        {
            throw new InvalidOperationException($"The stream retains offsets {info.FirstOffset} to {info.NextOffset - 1}; 0 to {N - 1} were expected.");
        }
    }

    [GlobalCleanup(Target = nameof(EventBus_ReadAsync))]
    public async Task CleanupStream() => await _bus!.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public long List_Baseline()
    {
        long sum = 0;
        var count = 0;
        foreach (var @event in _list)
        {
            sum += @event.Sequence;
            count++;
        }

        return Check(count, sum);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public async Task<long> List_AsyncEnumerable()
    {
        long sum = 0;
        var count = 0;
        await foreach (var @event in EnumerateAsync(_list))
        {
            sum += @event.Sequence;
            count++;
        }

        return Check(count, sum);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public async Task<long> EventBus_ReadAsync()
    {
        // One timer and token source per invocation: amortised over the N events, they round to 0 B per event.
        using var timeout = new CancellationTokenSource(Batch.Timeout);
        long sum = 0;
        var count = 0;
        try
        {
            await foreach (var item in _streams!.ReadAsync<BenchEvent>(StreamPosition.First, follow: false, timeout.Token))
            {
                sum += item.Event.Sequence;
                count++;
            }
        }
        catch (OperationCanceledException e) when (timeout.IsCancellationRequested)
        {
            throw new TimeoutException($"The replay did not end within {Batch.Timeout}: {count} of {N} events were read.", e);
        }

        return Check(count, sum);
    }

    private static async IAsyncEnumerable<BenchEvent> EnumerateAsync(List<BenchEvent> list)
    {
        await Task.CompletedTask;
        foreach (var @event in list)
        {
            yield return @event;
        }
    }

    // Every retained event must have been read once: N events whose sequence numbers 0 to N - 1 add up to N(N - 1)/2.
    private static long Check(int count, long sum) =>
        count == N && sum == ExpectedSum
            ? sum
            : throw new InvalidOperationException($"The replay read {count} events (sum {sum}); {N} events (sum {ExpectedSum}) were expected.");
}
