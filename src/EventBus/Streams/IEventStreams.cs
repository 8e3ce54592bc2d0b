namespace EventBus;

/// <summary>
/// The streams of the bus: replay readers, consumer groups started at run time, seeks, and lag. Resolve it from the container.
/// A topic is a stream when declared with <see cref="EventBusBuilder.AddStream{TEvent}(Action{StreamOptions}?)"/> or when a
/// consumer group is registered on it.
/// </summary>
public interface IEventStreams
{
    /// <summary>
    /// Reads the stream of <typeparamref name="TEvent"/> from <paramref name="from"/>, without a consumer group: nothing is committed
    /// and no group is affected. Use it to rebuild a read model at start-up.
    /// </summary>
    /// <typeparam name="TEvent">The event type of the stream.</typeparam>
    /// <param name="from">The first event to read.</param>
    /// <param name="follow"><see langword="false"/> to end at the head as of the call (a replay); <see langword="true"/> to go on
    /// with events published later, until <paramref name="cancellationToken"/> fires or the bus stops.</param>
    /// <param name="cancellationToken">Ends the enumeration.</param>
    /// <returns>The events in offset order. Offsets trimmed by retention while the reader was behind are passed over (the gap shows in the offsets).</returns>
    /// <exception cref="InvalidOperationException"><typeparamref name="TEvent"/> has no stream.</exception>
    IAsyncEnumerable<StreamEvent<TEvent>> ReadAsync<TEvent>(StreamPosition from, bool follow = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts (or resumes) the consumer group <paramref name="group"/> on the stream of <typeparamref name="TEvent"/> with a delegate
    /// handler. It continues from the group's committed offset, or from <see cref="ConsumerGroupOptions.StartPosition"/> the first
    /// time. If the bus is not started yet, the group's workers start with it.
    /// </summary>
    /// <typeparam name="TEvent">The event type of the stream.</typeparam>
    /// <param name="group">The group's name, unique per stream.</param>
    /// <param name="handler">Handles one event; an exception fails the attempt.</param>
    /// <param name="configure">Sets the group's options, or <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels loading the committed offset.</param>
    /// <returns>The running group; dispose it to stop it (it commits what it handled).</returns>
    /// <exception cref="InvalidOperationException">The group is already running, or <typeparamref name="TEvent"/> has no stream.</exception>
    /// <exception cref="StreamOffsetOutOfRangeException">The committed offset was trimmed and the reset policy is <see cref="OffsetResetPolicy.Fail"/>.</exception>
    ValueTask<IStreamSubscription> SubscribeAsync<TEvent>(string group, Func<TEvent, MessageContext, CancellationToken, ValueTask> handler, Action<ConsumerGroupOptions>? configure = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Gets a consumer group started by <see cref="SubscribeAsync{TEvent}"/>, or registered with the builder (from when the bus is
    /// built: before the bus starts, <see cref="IStreamSubscription.SeekAsync"/> sets where it starts), or <see langword="null"/>.
    /// </summary>
    /// <typeparam name="TEvent">The event type of the stream.</typeparam>
    /// <param name="group">The group's name.</param>
    /// <returns>The group, or <see langword="null"/> when it is stopped or unknown.</returns>
    IStreamSubscription? GetSubscription<TEvent>(string group);

    /// <summary>
    /// Moves the committed offset of a group that is not running, or of a registered group before the bus starts (for a running
    /// one, see <see cref="IStreamSubscription.SeekAsync"/>).
    /// </summary>
    /// <typeparam name="TEvent">The event type of the stream.</typeparam>
    /// <param name="group">The group's name.</param>
    /// <param name="position">The new position.</param>
    /// <param name="cancellationToken">Cancels the store write.</param>
    /// <returns>The offset committed.</returns>
    ValueTask<long> SeekAsync<TEvent>(string group, StreamPosition position, CancellationToken cancellationToken = default);

    /// <summary>Describes the stream of <typeparamref name="TEvent"/>: its retained range and the lag of every group it knows.</summary>
    /// <typeparam name="TEvent">The event type of the stream.</typeparam>
    /// <returns>The description.</returns>
    StreamInfo GetStreamInfo<TEvent>();
}

/// <summary>A running consumer group. Dispose it to stop it; starting the same group again resumes from its committed offset.</summary>
public interface IStreamSubscription : IAsyncDisposable
{
    /// <summary>Gets the stream's topic name.</summary>
    string Topic { get; }

    /// <summary>Gets the group's name.</summary>
    string Group { get; }

    /// <summary>
    /// Gets a task that completes when the group stops: successfully when disposed or when the bus stopped, faulted with the
    /// handler's exception when <see cref="ConsumerGroupOptions.StopOnFailure"/> stopped it.
    /// </summary>
    Task Completion { get; }

    /// <summary>Gets the group's snapshot: its offsets and lag, its options and its counters, as the bus's snapshot lists it.</summary>
    /// <returns>The group's state now (<see cref="SubscriptionSnapshot.Subscription"/> is the group's name).</returns>
    SubscriptionSnapshot GetSnapshot();

    /// <summary>Moves the group to <paramref name="position"/> once the event in hand is finished, and commits there.</summary>
    /// <param name="position">The new position (clamped to the retained range).</param>
    /// <param name="cancellationToken">Stops waiting for the group to apply it.</param>
    /// <returns>The offset the group continues from.</returns>
    ValueTask<long> SeekAsync(StreamPosition position, CancellationToken cancellationToken = default);
}

/// <summary>
/// An event read from a stream (<see cref="IEventStreams.ReadAsync{TEvent}"/>) or from a pull subscription
/// (<see cref="IEventBus.GetReader{TEvent}(string)"/>), with its envelope (<see cref="MessageContext.Offset"/> is its offset).
/// </summary>
/// <typeparam name="TEvent">The event type.</typeparam>
/// <param name="Event">The event.</param>
/// <param name="Context">Its envelope.</param>
public readonly record struct StreamEvent<TEvent>(TEvent Event, MessageContext Context)
{
    /// <summary>Gets the event's offset in the stream, or -1 when its topic is not a stream (an event read from a pull subscription of such a topic).</summary>
    public long Offset => Context.Offset ?? -1;
}

/// <summary>A stream's retained range and its groups.</summary>
/// <param name="Topic">The topic name.</param>
/// <param name="FirstOffset">The offset of the oldest retained event (equal to <paramref name="NextOffset"/> when none is).</param>
/// <param name="NextOffset">The offset the next published event gets: the head.</param>
/// <param name="Groups">
/// Every group the stream knows, ordered by name: running and registered ones (as <see cref="IEventBusControl.GetSnapshot"/>
/// lists them), and ones that ran before or were sought while stopped, with <see cref="SubscriptionState.Stopped"/>, their
/// committed offset as their position, and the options they ran with (the defaults for a group that has not run in this
/// process); their counters went with the group that ran.
/// </param>
public sealed record StreamInfo(string Topic, long FirstOffset, long NextOffset, IReadOnlyList<SubscriptionSnapshot> Groups)
{
    /// <summary>Gets how many events the stream retains.</summary>
    public long RetainedCount => NextOffset - FirstOffset;
}

/// <summary>Where consumer groups keep their committed offsets. The default keeps them in memory; replace it to keep them durably.</summary>
/// <remarks>Calls for one group come from one worker at a time; calls for different groups may run concurrently.</remarks>
public interface IStreamOffsetStore
{
    /// <summary>Loads the committed offset of <paramref name="group"/> on <paramref name="topic"/>.</summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="group">The group name.</param>
    /// <param name="cancellationToken">Cancels the load.</param>
    /// <returns>The offset, or <see langword="null"/> when the group never committed.</returns>
    ValueTask<long?> LoadAsync(string topic, string group, CancellationToken cancellationToken);

    /// <summary>Saves the committed offset of <paramref name="group"/> on <paramref name="topic"/>.</summary>
    /// <param name="topic">The topic name.</param>
    /// <param name="group">The group name.</param>
    /// <param name="offset">The offset of the next event the group will process.</param>
    /// <param name="cancellationToken">Cancels the save.</param>
    /// <returns>A task that completes when the offset is saved.</returns>
    ValueTask SaveAsync(string topic, string group, long offset, CancellationToken cancellationToken);
}

/// <summary>Thrown when a consumer group's committed offset is no longer retained and its reset policy is <see cref="OffsetResetPolicy.Fail"/>.</summary>
public sealed class StreamOffsetOutOfRangeException : InvalidOperationException
{
    /// <summary>Initializes a new instance of the <see cref="StreamOffsetOutOfRangeException"/> class.</summary>
    public StreamOffsetOutOfRangeException()
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StreamOffsetOutOfRangeException"/> class.</summary>
    /// <param name="message">The message.</param>
    public StreamOffsetOutOfRangeException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance of the <see cref="StreamOffsetOutOfRangeException"/> class.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The cause.</param>
    public StreamOffsetOutOfRangeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
