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
}
