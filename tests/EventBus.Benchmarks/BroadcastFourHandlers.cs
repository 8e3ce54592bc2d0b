using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using EventBus.Benchmarks.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Benchmarks;

/// <summary>
/// W2: broadcast to four handlers (four subscriptions of one topic). Each invocation publishes <see cref="N"/> events and
/// awaits all 4 x <see cref="N"/> deliveries; the reported time and bytes are per published event.
/// Baseline: four bounded channels (capacity 1024), each fed every event, each drained by its own reader loop.
/// Target (issue 6): the bus at least twice as fast as the baseline (Ratio at most 0.50), 0 B per event. The baseline is
/// noisy (readers that keep up make every write wake one); compare medians of several launches (<c>--launchCount 3</c>).
/// </summary>
[MemoryDiagnoser]
public class BroadcastFourHandlers
{
    /// <summary>Events per invocation (each delivered four times).</summary>
    public const int N = 100_000;

    private readonly CountingEventHandler[] _handlers = [new BroadcastHandler1(), new BroadcastHandler2(), new BroadcastHandler3(), new BroadcastHandler4()];
    private BenchEvent[] _events = [];
    private Channel<BenchEvent>[] _channels = [];
    private Task[] _readers = [];
    private BusFixture? _bus;

    [GlobalSetup(Target = nameof(RawChannels_Baseline))]
    public void SetupRawChannels()
    {
        _events = BenchMessages.Events(N);
        _channels = new Channel<BenchEvent>[_handlers.Length];
        _readers = new Task[_handlers.Length];
        for (var i = 0; i < _handlers.Length; i++)
        {
            _channels[i] = RawChannel.CreateBounded<BenchEvent>(singleReader: true);
            _readers[i] = RawChannel.StartReader(_channels[i].Reader, _handlers[i]);
        }
    }

    [GlobalCleanup(Target = nameof(RawChannels_Baseline))]
    public async Task CleanupRawChannels()
    {
        foreach (var channel in _channels)
        {
            channel.Writer.Complete();
        }

        await Task.WhenAll(_readers);
    }

    [GlobalSetup(Target = nameof(EventBus_Publish))]
    public async Task SetupEventBus()
    {
        _events = BenchMessages.Events(N);
        _bus = await BusFixture.StartAsync(
            services =>
            {
                foreach (var handler in _handlers)
                {
                    services.AddSingleton(handler.GetType(), handler);
                }
            },
            bus => bus
                .AddEventHandler<BenchEvent, BroadcastHandler1>(ServiceLifetime.Singleton)
                .AddEventHandler<BenchEvent, BroadcastHandler2>(ServiceLifetime.Singleton)
                .AddEventHandler<BenchEvent, BroadcastHandler3>(ServiceLifetime.Singleton)
                .AddEventHandler<BenchEvent, BroadcastHandler4>(ServiceLifetime.Singleton));
    }

    [GlobalCleanup(Target = nameof(EventBus_Publish))]
    public async Task CleanupEventBus() => await _bus!.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public async Task RawChannels_Baseline()
    {
        var (done1, done2, done3, done4) = Arm();
        var (writer1, writer2, writer3, writer4) = (_channels[0].Writer, _channels[1].Writer, _channels[2].Writer, _channels[3].Writer);
        foreach (var @event in _events)
        {
            await writer1.WriteAsync(@event);
            await writer2.WriteAsync(@event);
            await writer3.WriteAsync(@event);
            await writer4.WriteAsync(@event);
        }

        await WhenAllDone(done1, done2, done3, done4);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public async Task EventBus_Publish()
    {
        var (done1, done2, done3, done4) = Arm();
        var bus = _bus!.Events;
        foreach (var @event in _events)
        {
            await bus.PublishAsync(@event);
        }

        await WhenAllDone(done1, done2, done3, done4);
    }

    private (ValueTask, ValueTask, ValueTask, ValueTask) Arm() =>
        (_handlers[0].Signal.Arm(N), _handlers[1].Signal.Arm(N), _handlers[2].Signal.Arm(N), _handlers[3].Signal.Arm(N));

    // Each handler has its own signal (its own counter, touched by one reader), so the count-down adds no contention.
    private async ValueTask WhenAllDone(ValueTask done1, ValueTask done2, ValueTask done3, ValueTask done4)
    {
        await Batch.WhenDone(done1, _handlers[0].Signal);
        await Batch.WhenDone(done2, _handlers[1].Signal);
        await Batch.WhenDone(done3, _handlers[2].Signal);
        await Batch.WhenDone(done4, _handlers[3].Signal);
    }
}
