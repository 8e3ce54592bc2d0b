using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using EventBus.Benchmarks.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Benchmarks;

/// <summary>
/// W3: four competing workers. One subscription in <see cref="DeliveryMode.Queue"/> mode with 4 workers; each event is
/// handled once by one of them. Each invocation publishes <see cref="N"/> events and awaits their <see cref="N"/> deliveries.
/// Baseline: one bounded channel (capacity 1024) drained by four reader loops.
/// Target (issue 6): the bus at least 50% of the baseline's throughput (Ratio at most 2.00), 0 B per event.
/// </summary>
[MemoryDiagnoser]
public class FourCompetingWorkers
{
    /// <summary>Events per invocation.</summary>
    public const int N = 100_000;

    /// <summary>Competing workers (reader loops).</summary>
    public const int Workers = 4;

    private readonly QueueHandler _handler = new();
    private BenchEvent[] _events = [];
    private Channel<BenchEvent>? _channel;
    private Task[] _readers = [];
    private BusFixture? _bus;

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel()
    {
        _events = BenchMessages.Events(N);
        _channel = RawChannel.CreateBounded<BenchEvent>(singleReader: false);
        _readers = new Task[Workers];
        for (var i = 0; i < _readers.Length; i++)
        {
            _readers[i] = RawChannel.StartReader(_channel.Reader, _handler);
        }
    }

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public async Task CleanupRawChannel()
    {
        _channel!.Writer.Complete();
        await Task.WhenAll(_readers);
    }

    [GlobalSetup(Target = nameof(EventBus_Publish))]
    public async Task SetupEventBus()
    {
        _events = BenchMessages.Events(N);
        _bus = await BusFixture.StartAsync(
            services => services.AddSingleton(_handler),
            bus => bus
                .AddEventHandler<BenchEvent, QueueHandler>(ServiceLifetime.Singleton)
                .ConfigureSubscription<QueueHandler>(options =>
                {
                    options.Mode = DeliveryMode.Queue;
                    options.Workers = Workers;
                }));
    }

    [GlobalCleanup(Target = nameof(EventBus_Publish))]
    public async Task CleanupEventBus() => await _bus!.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public async Task RawChannel_Baseline()
    {
        var done = _handler.Signal.Arm(N);
        var writer = _channel!.Writer;
        foreach (var @event in _events)
        {
            await writer.WriteAsync(@event);
        }

        await Batch.WhenDone(done, _handler.Signal);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public async Task EventBus_Publish()
    {
        var done = _handler.Signal.Arm(N);
        var bus = _bus!.Events;
        foreach (var @event in _events)
        {
            await bus.PublishAsync(@event);
        }

        await Batch.WhenDone(done, _handler.Signal);
    }
}
