namespace EventBus;

/// <summary>
/// A point-in-time view of one subscription or consumer group: its configuration and its counters. Cheap to take.
/// </summary>
/// <remarks>
/// <para>A consumer group is described in the subscriptions' vocabulary, as <see cref="TopicDescription.Groups"/> describes it:
/// <see cref="Subscription"/> is the group's name; <see cref="Mode"/> is <see cref="DeliveryMode.Broadcast"/> for a group with
/// one worker (it reads every event of its stream, one at a time, in offset order: the publish order) and
/// <see cref="DeliveryMode.KeyOrdered"/> for a group with more (<see cref="ConsumerGroupOptions.Workers"/>: one key's events
/// one at a time in offset order, keys in parallel); <see cref="Capacity"/> and <see cref="FullPolicy"/> are its backlog limit
/// and what publishers meet when the backlog is full; <see cref="Depth"/> counts the events appended that no worker has taken
/// yet. A group never drops events and redelivers in place, so <see cref="Dropped"/> and <see cref="ScheduledRedeliveries"/>
/// are 0. <see cref="State"/> is <see cref="SubscriptionState.Faulted"/> once the group stopped on a failure
/// (<see cref="ConsumerGroupOptions.StopOnFailure"/>) or an error, when <see cref="IStreamSubscription.Completion"/> faults.</para>
/// <para>The stream values (<see cref="CommittedOffset"/>, <see cref="Position"/>, <see cref="NextOffset"/>, <see cref="Lag"/>)
/// are <see langword="null"/> for a subscription, and <see cref="Skipped"/> is 0.</para>
/// </remarks>
/// <param name="Topic">The topic (message-type key).</param>
/// <param name="Subscription">The subscription's name (the handler type's full name), or the consumer group's name.</param>
/// <param name="Mode">The delivery mode.</param>
/// <param name="Workers">The number of workers.</param>
/// <param name="Capacity">The buffer capacity (a consumer group's backlog limit).</param>
/// <param name="FullPolicy">The full policy.</param>
/// <param name="Depth">The number of buffered messages not yet taken by a worker (a consumer group's appended events not yet taken).</param>
/// <param name="InFlight">The number of messages being handled now.</param>
/// <param name="Delivered">How many times a message was handed to the handler (redeliveries included).</param>
/// <param name="Succeeded">How many messages were handled successfully (acknowledged).</param>
/// <param name="Failed">How many messages ended in failure: dead-lettered, failed at-most-once, or a rejected enqueued command.</param>
/// <param name="Dropped">How many messages the full policy dropped.</param>
/// <param name="Retried">How many redeliveries were made or scheduled after a failed attempt.</param>
/// <param name="DeadLettered">How many messages were dead-lettered.</param>
/// <param name="ScheduledRedeliveries">How many messages wait for a delayed redelivery now.</param>
/// <param name="DeadLetters">How many dead letters the subscription keeps now.</param>
/// <param name="State">Whether the workers run, have stopped, or faulted.</param>
public sealed record SubscriptionSnapshot(
    string Topic,
    string Subscription,
    DeliveryMode Mode,
    int Workers,
    int Capacity,
    FullPolicy FullPolicy,
    int Depth,
    int InFlight,
    long Delivered,
    long Succeeded,
    long Failed,
    long Dropped,
    long Retried,
    long DeadLettered,
    int ScheduledRedeliveries,
    int DeadLetters,
    SubscriptionState State)
{
    /// <summary>Gets a consumer group's committed offset: the offset of the next event it will process after a restart.</summary>
    /// <value>The committed offset, or <see langword="null"/> for a subscription.</value>
    public long? CommittedOffset { get; init; }

    /// <summary>Gets the offset of the next event a consumer group reads (ahead of the committed offset while events are in hand).</summary>
    /// <value>The offset, or <see langword="null"/> for a subscription.</value>
    public long? Position { get; init; }

    /// <summary>Gets the head of a consumer group's stream: the offset the next published event gets.</summary>
    /// <value>The offset, or <see langword="null"/> for a subscription.</value>
    public long? NextOffset { get; init; }

    /// <summary>
    /// Gets how many events a consumer group skipped without reading them (trimmed by retention before it read them, or jumped
    /// over by its reset policy), since the group started in this process.
    /// </summary>
    /// <value>The count; 0 for a subscription.</value>
    public long Skipped { get; init; }

    /// <summary>Gets a consumer group's lag: the head of its stream minus its committed offset.</summary>
    /// <value><see cref="NextOffset"/> minus <see cref="CommittedOffset"/>, or <see langword="null"/> for a subscription.</value>
    public long? Lag => NextOffset - CommittedOffset;
}
