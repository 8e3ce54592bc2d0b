namespace EventBus;

/// <summary>How a subscription consumes the messages of its topic.</summary>
public enum DeliveryMode
{
    /// <summary>
    /// One worker handles the subscription's messages one at a time, in publish order (per publisher; across
    /// publishers in the topic's order, which every broadcast subscription of the topic shares).
    /// This is the default for events: every handler of an event type is a subscription of its own and sees every event.
    /// </summary>
    Broadcast = 0,

    /// <summary>
    /// <see cref="SubscriptionOptions.Workers"/> competing workers share the subscription's messages: each message is
    /// handled by exactly one of them, and there is no ordering promise. This is the default for enqueued commands.
    /// </summary>
    Queue = 1,

    /// <summary>
    /// <see cref="SubscriptionOptions.Workers"/> workers share the subscription's messages by partition key
    /// (<see cref="PublishOptions.PartitionKey"/>, seen by handlers as <see cref="MessageContext.PartitionKey"/>): the messages
    /// of one key always go to the same worker and are handled one at a time, in publish order (per publisher; across publishers
    /// in the topic's order), while different keys are handled in parallel. A failed attempt is redelivered in place (a delayed
    /// redelivery waits in place), so later messages of its key wait and the key's order holds through retries; after the last
    /// attempt the message is dead-lettered and the key goes on. Messages without a key are spread over the workers, with no
    /// ordering promise. Not available with a batch handler or with <see cref="FullPolicy.DropOldest"/>.
    /// </summary>
    KeyOrdered = 2,
}
