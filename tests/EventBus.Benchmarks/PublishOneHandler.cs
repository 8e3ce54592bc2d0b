using System.Threading.Channels;
using BenchmarkDotNet.Attributes;
using EventBus.Benchmarks.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Benchmarks;

/// <summary>
/// W1: one publisher, one handler. Each invocation publishes a batch of <see cref="N"/> preallocated events and awaits
/// their delivery to the handler; the reported time and bytes are per event.
/// Baseline: a bounded <see cref="Channel{T}"/> (capacity 1024, as the bus's default buffer) and one reader loop calling
/// the handler directly. Target (issue 6): the bus at least 50% of the baseline's throughput (Ratio at most 2.00), 0 B per event.
/// </summary>
[MemoryDiagnoser]
public class PublishOneHandler
{
    /// <summary>Events per invocation.</summary>
    public const int N = 100_000;

    private readonly SingleHandler _handler = new();
    private BenchEvent[] _events = [];
    private Channel<BenchEvent>? _channel;
    private Task? _reader;
    private BusFixture? _bus;

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
