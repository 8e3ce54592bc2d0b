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
/// <param name="Delivered">How many messages were handed to the handler.</param>
/// <param name="Succeeded">How many deliveries completed successfully.</param>
/// <param name="Failed">How many deliveries failed (exception or rejection of an enqueued command).</param>
/// <param name="Dropped">How many messages the full policy dropped.</param>
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
    long Dropped);
