namespace EventBus;

/// <summary>
/// Handles events of type <typeparamref name="TEvent"/> in batches: up to a maximum count, or whatever arrived within a wait.
/// Register with <see cref="EventBusBuilder.AddBatchEventHandler{TEvent, THandler}(int, TimeSpan, Microsoft.Extensions.DependencyInjection.ServiceLifetime)"/>.
/// </summary>
/// <typeparam name="TEvent">The event type (or a base type of the events to handle).</typeparam>
/// <remarks>
/// A batch is acknowledged or negatively acknowledged as a whole: when the handler throws (or nacks through any of the contexts),
/// the whole batch is redelivered according to the subscription's <see cref="RedeliveryOptions"/> (always in place, keeping order),
/// then every message of it is dead-lettered.
/// </remarks>
public interface IBatchEventHandler<in TEvent>
{
    /// <summary>Handles one batch.</summary>
    /// <param name="events">The events, in buffer order; at least one. The list belongs to the handler.</param>
    /// <param name="contexts">The envelope of each event, at the same index.</param>
    /// <param name="cancellationToken">Cancelled on the handler timeout or when the bus's stop timeout expires.</param>
    /// <returns>A task that completes when the batch has been handled.</returns>
    ValueTask HandleAsync(IReadOnlyList<TEvent> events, IReadOnlyList<MessageContext> contexts, CancellationToken cancellationToken);
}
