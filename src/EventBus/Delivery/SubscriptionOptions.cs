namespace EventBus;

/// <summary>
/// Options of one subscription (a handler on a topic). Unset values fall back to the topic's options
/// (<see cref="EventBusBuilder.AddTopic{TMessage}(Action{SubscriptionOptions}?)"/>), then to <see cref="EventBusOptions"/>.
/// </summary>
public sealed class SubscriptionOptions
{
    /// <summary>Gets or sets the delivery mode.</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="DeliveryMode.Broadcast"/> for events, <see cref="DeliveryMode.Queue"/> for enqueued commands.</value>
    public DeliveryMode? Mode { get; set; }

    /// <summary>
    /// Gets or sets the number of workers: competing workers in <see cref="DeliveryMode.Queue"/> mode, one per group of partition
    /// keys in <see cref="DeliveryMode.KeyOrdered"/> mode. Must be 1 in <see cref="DeliveryMode.Broadcast"/> mode.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: 1 for broadcast, <see cref="EventBusOptions.QueueWorkers"/> for queue and key-ordered subscriptions. Range: 1 to 1024.</value>
    public int? Workers { get; set; }

    /// <summary>Gets or sets how many messages the subscription's buffer holds (all workers' lanes together in <see cref="DeliveryMode.KeyOrdered"/> mode) before <see cref="FullPolicy"/> applies.</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultCapacity"/>. Range: 1 to 1,048,576.</value>
    public int? Capacity { get; set; }

    /// <summary>Gets or sets what a publish does when the buffer is full. <see cref="EventBus.FullPolicy.DropOldest"/> is not available in <see cref="DeliveryMode.KeyOrdered"/> mode.</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultFullPolicy"/>.</value>
    public FullPolicy? FullPolicy { get; set; }

    /// <summary>Gets or sets the redelivery policy.</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultRedelivery"/> (no redelivery unless configured).</value>
    public RedeliveryOptions? Redelivery { get; set; }

    /// <summary>
    /// Gets or sets how long one handler attempt may run. When it expires the handler's cancellation token is cancelled and the
    /// attempt fails (and is redelivered or dead-lettered); a handler that ignores the token is abandoned after
    /// <see cref="EventBusOptions.HandlerTimeoutGracePeriod"/> more, and its worker moves on. With a timeout set, each attempt
    /// starts on the thread pool, so the timeout also covers a handler that blocks its thread before its first await.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultHandlerTimeout"/> (none). Range: 1 ms to one day.</value>
    public TimeSpan? HandlerTimeout { get; set; }

    /// <summary>Gets or sets when messages are acknowledged: after handling (at-least-once) or before (at-most-once).</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBus.AckMode.AfterHandling"/>.</value>
    public AckMode? AckMode { get; set; }

    /// <summary>Gets or sets how many dead letters the subscription keeps; when full, the oldest is discarded (and reported).</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultDeadLetterCapacity"/>. Range: 0 to 1,048,576.</value>
    public int? DeadLetterCapacity { get; set; }

    internal SubscriptionOptions Clone() => (SubscriptionOptions)MemberwiseClone();

    internal void Apply(SubscriptionOptions? overrides)
    {
        if (overrides is null)
        {
            return;
        }

        Mode = overrides.Mode ?? Mode;
        Workers = overrides.Workers ?? Workers;
        Capacity = overrides.Capacity ?? Capacity;
        FullPolicy = overrides.FullPolicy ?? FullPolicy;
        Redelivery = overrides.Redelivery ?? Redelivery;
        HandlerTimeout = overrides.HandlerTimeout ?? HandlerTimeout;
        AckMode = overrides.AckMode ?? AckMode;
        DeadLetterCapacity = overrides.DeadLetterCapacity ?? DeadLetterCapacity;
    }
}
