namespace EventBus;

/// <summary>
/// Handles events of type <typeparamref name="TEvent"/> (and, through contravariance, of every type derived from it).
/// </summary>
/// <typeparam name="TEvent">The event type, or a base class or interface of the event types to handle.</typeparam>
/// <remarks>
/// Each handler registration is a subscription of its own: it receives every event of the topics it
/// subscribes to, in its own bounded buffer, independently of every other handler. The handler is resolved from
/// a fresh DI scope for every delivery unless it is registered as a singleton and no scoped middleware applies.
/// </remarks>
public interface IEventHandler<in TEvent>
{
    /// <summary>Handles one event.</summary>
    /// <param name="event">The event. The same instance is shared with every other handler: do not change it.</param>
    /// <param name="context">The delivery's envelope: message id, timestamp, correlation, headers, delivery count.</param>
    /// <param name="cancellationToken">Cancelled when the bus stops and its drain timeout has expired.</param>
    /// <returns>A task that completes when the event has been handled. A fault is logged and counted; it does not affect other handlers.</returns>
    ValueTask HandleAsync(TEvent @event, MessageContext context, CancellationToken cancellationToken);
}
