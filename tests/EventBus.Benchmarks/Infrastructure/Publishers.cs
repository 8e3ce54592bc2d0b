using System.Threading.Channels;

namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// How one row publishes one event: the only part of the measured loop that differs between rows. A row passes a struct that
/// implements it to <see cref="EventWorkload.PublishBatchAsync{TPublisher}"/>; the loop is compiled once per struct, so the
/// call is direct (and inlinable) as if it were written in the loop, with no delegate or interface dispatch per event.
/// </summary>
public interface IEventPublisher
{
    /// <summary>Publishes one event.</summary>
    /// <param name="event">The event.</param>
    /// <returns>A task that completes when the event is accepted.</returns>
    ValueTask PublishAsync(BenchEvent @event);
}

/// <summary>The raw baseline: writes the event to a bounded channel.</summary>
/// <param name="writer">The channel's writer.</param>
public readonly struct ChannelPublisher(ChannelWriter<BenchEvent> writer) : IEventPublisher
{
    /// <inheritdoc />
    public ValueTask PublishAsync(BenchEvent @event) => writer.WriteAsync(@event);
}

/// <summary>The bus: <see cref="IEventBus.PublishAsync{TEvent}(TEvent, CancellationToken)"/>.</summary>
/// <param name="bus">The bus.</param>
public readonly struct BusPublisher(IEventBus bus) : IEventPublisher
{
    /// <inheritdoc />
    public ValueTask PublishAsync(BenchEvent @event) => bus.PublishAsync(@event);
}
