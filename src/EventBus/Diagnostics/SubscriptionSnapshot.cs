namespace EventBus;

/// <summary>A point-in-time view of one subscription: its configuration and its counters. Cheap to take.</summary>
/// <param name="Topic">The topic (message-type key).</param>
/// <param name="Subscription">The subscription's name (the handler type's full name).</param>
/// <param name="Mode">The delivery mode.</param>
/// <param name="Workers">The number of workers.</param>
/// <param name="Capacity">The buffer capacity.</param>
/// <param name="FullPolicy">The full policy.</param>
/// <param name="Depth">The number of buffered messages not yet taken by a worker.</param>
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
    SubscriptionState State);
