using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using EventBus.Benchmarks.Infrastructure;
using EventBus.Benchmarks.Peers;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Benchmarks;

/// <summary>
/// W1 against the peers: one publisher, one handler, with Wolverine 6.62.0 (buffered local queue, one listener) and
/// MassTransit 8.5.12 (in-memory transport, one consumer at a time) beside the raw channel and the bus. The batch is smaller
/// than in <see cref="PublishOneHandler"/> (<see cref="N"/> events) so that the slowest peer's invocation stays well under a second;
/// the reported time and bytes are per event. Each row runs in its own process and starts only its own contender.
/// </summary>
[MemoryDiagnoser]
public class PeersPublishOneHandler
{
    /// <summary>Events per invocation.</summary>
    public const int N = 10_000;

    private readonly SingleHandler _handler = new();
    private BenchEvent[] _events = [];
    private Channel<BenchEvent>? _channel;
    private Task? _reader;
    private BusFixture? _bus;
    private WolverinePeer? _wolverine;
    private MassTransitPeer? _massTransit;

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel()
    {
        _events = BenchMessages.Events(N);
        _channel = RawChannel.CreateBounded<BenchEvent>(singleReader: true);
        _reader = RawChannel.StartReader(_channel.Reader, _handler);
    }

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public async Task CleanupRawChannel()
    {
        _channel!.Writer.Complete();
        await _reader!;
    }

    [GlobalSetup(Target = nameof(EventBus_Publish))]
    public async Task SetupEventBus()
    {
        _events = BenchMessages.Events(N);
        _bus = await BusFixture.StartAsync(
            services => services.AddSingleton(_handler),
            bus => bus.AddEventHandler<BenchEvent, SingleHandler>(ServiceLifetime.Singleton));
    }

    [GlobalCleanup(Target = nameof(EventBus_Publish))]
    public async Task CleanupEventBus() => await _bus!.DisposeAsync();

    [GlobalSetup(Target = nameof(Wolverine_Publish))]
    public async Task SetupWolverine()
    {
        _events = BenchMessages.Events(N);
        _wolverine = await WolverinePeer.StartAsync();
    }

    [GlobalCleanup(Target = nameof(Wolverine_Publish))]
    public async Task CleanupWolverine() => await _wolverine!.DisposeAsync();

    [GlobalSetup(Target = nameof(MassTransit_Publish))]
    public async Task SetupMassTransit()
    {
        _events = BenchMessages.Events(N);
        _massTransit = await MassTransitPeer.StartAsync();
    }

    [GlobalCleanup(Target = nameof(MassTransit_Publish))]
    public async Task CleanupMassTransit() => await _massTransit!.DisposeAsync();

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

    [Benchmark(OperationsPerInvoke = N)]
    public async Task Wolverine_Publish()
    {
        var signal = _wolverine!.Signals.Events;
        var done = signal.Arm(N);
        var bus = _wolverine.Bus;
        foreach (var @event in _events)
        {
            await bus.PublishAsync(@event);
        }

        await Batch.WhenDone(done, signal);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public async Task MassTransit_Publish()
    {
        var signal = _massTransit!.Signals.Events;
        var done = signal.Arm(N);
        var bus = _massTransit.Bus;
        foreach (var @event in _events)
        {
            await bus.Publish(@event);
        }

        await Batch.WhenDone(done, signal);
    }
}
