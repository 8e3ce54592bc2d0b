namespace EventBus;

/// <summary>Publishes events to every subscription of their type. Resolve it from DI; it is a thread-safe singleton.</summary>
public interface IEventBus
{
    /// <summary>Publishes one event.</summary>
    /// <typeparam name="TEvent">The event type: its topic. Handlers of <typeparamref name="TEvent"/> and of its base types and interfaces receive it.</typeparam>
    /// <param name="event">The event: an immutable object (a <c>sealed record</c>). The bus never copies it.</param>
    /// <param name="cancellationToken">Cancels a publish that waits for room in a full buffer.</param>
    /// <returns>A task that completes when every subscription has accepted the event into its buffer (not when it is handled).</returns>
    /// <exception cref="ArgumentNullException"><paramref name="event"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><typeparamref name="TEvent"/> is a command: send it with <see cref="ICommandBus"/>.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler subscribes to <typeparamref name="TEvent"/> and it was not declared as a topic.</exception>
    /// <exception cref="BufferFullException">A <see cref="FullPolicy.FailFast"/> subscription is full.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default);

    /// <summary>Publishes one event with envelope values (correlation, causation, headers, partition key).</summary>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <param name="event">The event.</param>
    /// <param name="options">The envelope values, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels a publish that waits for room in a full buffer.</param>
    /// <returns>A task that completes when every subscription has accepted the event.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="event"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><typeparamref name="TEvent"/> is a command.</exception>
    /// <exception cref="UnknownMessageTypeException">No handler subscribes to <typeparamref name="TEvent"/>.</exception>
    /// <exception cref="BufferFullException">A <see cref="FullPolicy.FailFast"/> subscription is full.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask PublishAsync<TEvent>(TEvent @event, PublishOptions? options, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes a batch of events atomically: every subscription accepts all of them, contiguously and in order, or
    /// none of them (when the publish fails or is cancelled while waiting for room).
    /// </summary>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <param name="events">The events, none of them <see langword="null"/>. An empty batch does nothing.</param>
    /// <param name="options">The envelope values given to every event, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels a publish that waits for room.</param>
    /// <returns>A task that completes when every subscription has accepted the batch.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="events"/> or one of its items is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException">The batch is larger than the capacity of a subscription that does not drop, so it could never be accepted whole.</exception>
    /// <exception cref="BufferFullException">A <see cref="FullPolicy.FailFast"/> subscription has no room for the whole batch.</exception>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask PublishBatchAsync<TEvent>(IReadOnlyList<TEvent> events, PublishOptions? options = null, CancellationToken cancellationToken = default);
}
