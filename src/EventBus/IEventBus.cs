using System.Threading.Channels;

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

    /// <summary>
    /// Gets a <see cref="ChannelWriter{T}"/> that publishes every event written to it, so that code written against a channel
    /// publishes to the bus unchanged. Each write is a publish to the topic of the event's runtime type, with that topic's full
    /// policies; the writer holds no buffer of its own.
    /// </summary>
    /// <remarks>
    /// <list type="bullet">
    /// <item><description><see cref="ChannelWriter{T}.WriteAsync"/> publishes as <see cref="PublishAsync{TEvent}(TEvent, PublishOptions?, CancellationToken)"/>
    /// does: it waits for room in a full <see cref="FullPolicy.Wait"/> subscription or consumer group, fails with
    /// <see cref="BufferFullException"/> when a <see cref="FullPolicy.FailFast"/> one is full, and lets a drop policy drop. Its task
    /// completes when every subscription has accepted the event, not when it is handled.</description></item>
    /// <item><description><see cref="ChannelWriter{T}.TryWrite"/> publishes only if it can without waiting or failing: it returns
    /// <see langword="false"/>, publishing nothing, when a <see cref="FullPolicy.Wait"/> or <see cref="FullPolicy.FailFast"/>
    /// subscription or consumer group is full, or when the writer is completed or the bus stopped. Drop policies drop as they do for
    /// a publish, and the write returns <see langword="true"/>.</description></item>
    /// <item><description><see cref="ChannelWriter{T}.WaitToWriteAsync"/> completes with <see langword="true"/> when every
    /// subscription and consumer group of the topic of <typeparamref name="TEvent"/> that keeps every message (Wait or FailFast)
    /// has room for one more, so that a <c>TryWrite</c> could succeed (another publisher may take the room first); with
    /// <see langword="false"/> once the writer is completed or the bus stopped. A <typeparamref name="TEvent"/> without a topic of
    /// its own (an interface, an abstract class, <see cref="object"/>, a base class whose handlers all declare derived types), whose
    /// events go to the topics of their runtime types, has no room to wait for: the wait completes with <see langword="true"/> at
    /// once while the writer is open and the bus runs.</description></item>
    /// <item><description><see cref="ChannelWriter{T}.TryComplete"/> completes this writer only, never the bus or its topics:
    /// later writes fail with <see cref="ChannelClosedException"/> (holding the completion's error, if any), writes still waiting
    /// for room fail with it too and publish nothing, and <c>TryWrite</c> returns <see langword="false"/>.</description></item>
    /// <item><description>Once the bus is stopped, <c>WriteAsync</c> fails with a <see cref="ChannelClosedException"/> whose
    /// inner exception is the <see cref="ObjectDisposedException"/> that <c>PublishAsync</c> throws, <c>TryWrite</c> returns
    /// <see langword="false"/> and <c>WaitToWriteAsync</c> returns <see langword="false"/>: code that writes to a channel already
    /// handles a closed one.</description></item>
    /// <item><description>A <see langword="null"/> event throws <see cref="ArgumentNullException"/>, a command
    /// <see cref="ArgumentException"/>, and an event type nobody subscribes to <see cref="UnknownMessageTypeException"/>, from
    /// the call itself, as <c>PublishAsync</c> does; every other outcome of <c>WriteAsync</c> comes back in its task.</description></item>
    /// </list>
    /// <para>The writer is thread-safe: any number of producers may write at once; each write is one publish, and the topic
    /// orders concurrent publishes as it always does.</para>
    /// </remarks>
    /// <typeparam name="TEvent">The event type: a concrete event type (its topic), or an interface or base type whose events go to
    /// the topics of their runtime types.</typeparam>
    /// <param name="options">The envelope values given to every event written (correlation, causation, headers, partition key),
    /// or <see langword="null"/>. <see cref="PublishOptions.MessageId"/> must be unset: each event gets an id of its own.</param>
    /// <returns>A new writer; completing it affects no other writer.</returns>
    /// <exception cref="ArgumentException"><typeparamref name="TEvent"/> is a command, or <paramref name="options"/> gives a message id.</exception>
    /// <exception cref="UnknownMessageTypeException"><typeparamref name="TEvent"/> is a sealed type that no handler, pull
    /// subscription or topic declaration subscribes to (and <see cref="EventBusOptions.RequireKnownEventTypes"/> is on).</exception>
    ChannelWriter<TEvent> AsChannelWriter<TEvent>(PublishOptions? options = null);

    /// <summary>
    /// Gets the <see cref="ChannelReader{T}"/> of the pull subscription <paramref name="name"/> on the topic of
    /// <typeparamref name="TEvent"/>, registered with <see cref="EventBusBuilder.AddPullSubscription{TEvent}(string, Action{SubscriptionOptions}?)"/>:
    /// the consumer takes the subscription's events when it is ready, instead of a handler being called with them.
    /// </summary>
    /// <remarks>
    /// <list type="bullet">
    /// <item><description>What a reader gets: every event published to the topic from when the bus was built, in the topic's
    /// order, as every subscription of the topic does; each with its envelope, whose <see cref="MessageContext.Subscription"/> is
    /// <paramref name="name"/>. <see cref="StreamEvent{TEvent}.Offset"/> is the event's stream offset when the topic is a stream,
    /// and -1 otherwise.</description></item>
    /// <item><description>Backpressure: the reader reads the subscription's own bounded buffer. A reader that falls behind fills
    /// it, and then the subscription's <see cref="SubscriptionOptions.FullPolicy"/> applies to publishers: they wait
    /// (<see cref="FullPolicy.Wait"/>), fail (<see cref="FullPolicy.FailFast"/>) or drop events for this subscription.</description></item>
    /// <item><description>Acknowledgement: an event is acknowledged when it is read, and never delivered again. Delivery is at
    /// most once per pull subscription: an event a reader read and then failed to process is lost to the subscription. The envelope
    /// has no settlement (<see cref="MessageContext.Settlement"/> is <see langword="null"/>).</description></item>
    /// <item><description>Several readers (several loops over this reader, or several calls of this method) compete: each event
    /// goes to exactly one of them. One reader sees the events in the topic's order; competing readers have no order between them.</description></item>
    /// <item><description>Stop: <see cref="IEventBusControl.StopAsync(CancellationToken)"/> waits up to
    /// <see cref="EventBusOptions.StopTimeout"/> for the readers to read what is buffered, as it waits for handlers; what is still
    /// unread then is taken out and reported as <see cref="UndeliveredReason.NotStartedBeforeStop"/> in the stop's report (and to
    /// <see cref="EventBusOptions.OnUndelivered"/>). <see cref="ChannelReader{T}.Completion"/> completes when the bus has stopped
    /// and the buffer is empty: a loop over <see cref="ChannelReader{T}.ReadAllAsync"/> without a token of its own ends
    /// then.</description></item>
    /// <item><description>Readers may read as soon as the bus is built, before it starts. A reader that publishes to its own
    /// topic while its subscription is full with <see cref="FullPolicy.Wait"/> waits for a room that only readers make: with a
    /// single reader, that wait never ends.</description></item>
    /// </list>
    /// </remarks>
    /// <typeparam name="TEvent">The event type the pull subscription was registered with.</typeparam>
    /// <param name="name">The pull subscription's name.</param>
    /// <returns>The subscription's reader (the same instance on every call); it is thread-safe.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty or white space, or the topic of <typeparamref name="TEvent"/> has no
    /// pull subscription of that name (the message names both, and the pull subscriptions the topic has).</exception>
    ChannelReader<StreamEvent<TEvent>> GetReader<TEvent>(string name);

    /// <summary>
    /// Creates a producer-side batcher: it collects events and publishes them as atomic batches
    /// (<see cref="PublishBatchAsync{TEvent}(IReadOnlyList{TEvent}, PublishOptions?, CancellationToken)"/>) of up to
    /// <paramref name="maxBatchSize"/> events, at the latest <paramref name="linger"/> after a batch's first event.
    /// </summary>
    /// <remarks>The linger timer runs on the bus's <see cref="TimeProvider"/> (the one in the container, or the system clock).</remarks>
    /// <typeparam name="TEvent">The event type.</typeparam>
    /// <param name="maxBatchSize">The largest batch, from 1 to 100,000.</param>
    /// <param name="linger">How long a batch may wait for more events, from 1 ms to one hour.</param>
    /// <returns>The batcher; dispose it to publish what is left.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBatchSize"/> or <paramref name="linger"/> is out of its range.</exception>
    IEventBatcher<TEvent> CreateBatcher<TEvent>(int maxBatchSize, TimeSpan linger);
}
