namespace EventBus;

/// <summary>
/// What a consumer group does when its committed offset is out of range: trimmed away by retention (or, for a group registered
/// with the builder, the events published before the bus started were trimmed), or beyond the stream's head.
/// </summary>
public enum OffsetResetPolicy
{
    /// <summary>Continue from the oldest retained event; the trimmed events are reported as skipped.</summary>
    Earliest = 0,

    /// <summary>Continue from the next event published; everything in between is reported as skipped.</summary>
    Latest = 1,

    /// <summary>Do not start: <see cref="StreamOffsetOutOfRangeException"/>.</summary>
    Fail = 2,
}

/// <summary>Options of one consumer group on a stream.</summary>
public sealed class ConsumerGroupOptions
{
    /// <summary>
    /// Gets or sets where a group with no committed offset starts. A group registered with the builder joins its stream when the
    /// bus is built, before anything is published: for it, <see cref="StreamPosition.First"/>, <see cref="StreamPosition.Last"/>
    /// and <see cref="StreamPosition.Next"/> all mean the first event published, so events published before the bus starts reach
    /// it; an offset or a timestamp is resolved when the bus starts.
    /// </summary>
    /// <value>The default value is <see cref="StreamPosition.Next"/>.</value>
    public StreamPosition StartPosition { get; set; } = StreamPosition.Next;

    /// <summary>Gets or sets what happens when the committed offset was trimmed away.</summary>
    /// <value>The default value is <see cref="OffsetResetPolicy.Earliest"/>.</value>
    public OffsetResetPolicy ResetPolicy { get; set; } = OffsetResetPolicy.Earliest;

    /// <summary>Gets or sets when the group commits an event's offset: after handling (at-least-once), before (at-most-once), or when the handler commits.</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBus.AckMode.AfterHandling"/>.</value>
    public AckMode? AckMode { get; set; }

    /// <summary>Gets or sets after how many handled events an <see cref="EventBus.AckMode.AfterHandling"/> group commits.</summary>
    /// <value>The default value is 1 (every event). Range: 1 to <see cref="Capacity"/>.</value>
    public int CommitEvery { get; set; } = 1;

    /// <summary>Gets or sets the longest time an <see cref="EventBus.AckMode.AfterHandling"/> group keeps handled events uncommitted, or <see langword="null"/>.</summary>
    /// <value>The default value is <see langword="null"/>: only <see cref="CommitEvery"/> applies. Range: 1 ms to one day.</value>
    public TimeSpan? CommitInterval { get; set; }

    /// <summary>
    /// Gets or sets how many workers handle the group's events. With more than one, events with the same
    /// <see cref="MessageContext.PartitionKey"/> are handled one at a time in offset order, different keys in parallel
    /// (events without a key are spread over the workers, unordered).
    /// </summary>
    /// <value>The default value is 1 (every event in offset order). Range: 1 to 1024.</value>
    public int Workers { get; set; } = 1;

    /// <summary>
    /// Gets or sets the group's backlog limit: how many events may be published past its committed offset before
    /// <see cref="FullPolicy"/> applies to publishers.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultCapacity"/>. Range: 1 to 1,048,576.</value>
    public int? Capacity { get; set; }

    /// <summary>Gets or sets what a publish does when the group's backlog is full: <see cref="FullPolicy.Wait"/> or <see cref="FullPolicy.FailFast"/> (a group never drops).</summary>
    /// <value>
    /// The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultFullPolicy"/> when that is Wait or FailFast,
    /// otherwise <see cref="FullPolicy.Wait"/> (a slow group slows publishers rather than losing events).
    /// </value>
    public FullPolicy? FullPolicy { get; set; }

    /// <summary>
    /// Gets or sets how often a failing event is attempted (in place, keeping the order) before it is dead-lettered or, with
    /// <see cref="StopOnFailure"/>, stops the group. Not used by an at-most-once group (<see cref="EventBus.AckMode.BeforeHandling"/>),
    /// which attempts each event once.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultRedelivery"/>.</value>
    public RedeliveryOptions? Redelivery { get; set; }

    /// <summary>
    /// Gets or sets how long one handler attempt may run. When it expires the handler's cancellation token is cancelled and the
    /// attempt fails (and is attempted again in place, or the failure policy applies); a handler that ignores the token is abandoned
    /// after <see cref="EventBusOptions.HandlerTimeoutGracePeriod"/> more, and the group moves on. With a timeout set, each attempt
    /// starts on the thread pool, so the timeout also covers a handler that blocks its thread before its first await.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultHandlerTimeout"/> (none). Range: 1 ms to one day.</value>
    public TimeSpan? HandlerTimeout { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether the group stops on an event whose attempts all failed, instead of dead-lettering it
    /// (kept with its offset, reported to <see cref="EventBusOptions.OnUndelivered"/>) and going on with the next. A stopped group's
    /// offset stays committed before the event, <see cref="IStreamSubscription.Completion"/> faults with the handler's exception,
    /// and a restarted group reads the event again.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: dead-letter and go on.</value>
    public bool StopOnFailure { get; set; }

    /// <summary>Gets or sets how many dead letters the group keeps; when full, the oldest is discarded (and reported).</summary>
    /// <value>The default value is <see langword="null"/>: <see cref="EventBusOptions.DefaultDeadLetterCapacity"/>. Range: 0 to 1,048,576.</value>
    public int? DeadLetterCapacity { get; set; }

    /// <summary>The full policy the group applies: its own, or the bus default when a group can honour it (a group never drops).</summary>
    internal FullPolicy EffectiveFullPolicy(EventBusOptions bus) =>
        FullPolicy ?? (bus.DefaultFullPolicy is EventBus.FullPolicy.FailFast ? EventBus.FullPolicy.FailFast : EventBus.FullPolicy.Wait);

    internal IEnumerable<string> Validate(string owner, int capacity)
    {
        if (Workers is < 1 or > EventBusOptions.MaxWorkers)
        {
            yield return $"ConsumerGroupOptions.Workers of {owner} must be between 1 and {EventBusOptions.MaxWorkers}; it is {Workers}.";
        }

        if (Capacity is < 1 or > EventBusOptions.MaxCapacity)
        {
            yield return $"ConsumerGroupOptions.Capacity of {owner} must be between 1 and {EventBusOptions.MaxCapacity}; it is {Capacity}.";
        }

        if (CommitEvery < 1 || CommitEvery > capacity)
        {
            yield return $"ConsumerGroupOptions.CommitEvery of {owner} must be between 1 and the group's Capacity ({capacity}), or publishers would wait for a commit that never comes; it is {CommitEvery}.";
        }

        if (CommitInterval is { } interval && (interval < TimeSpan.FromMilliseconds(1) || interval > TimeSpan.FromDays(1)))
        {
            yield return $"ConsumerGroupOptions.CommitInterval of {owner} must be between 00:00:00.001 and 1.00:00:00; it is {interval}.";
        }

        if (HandlerTimeout is { } timeout && (timeout < TimeSpan.FromMilliseconds(1) || timeout > TimeSpan.FromDays(1)))
        {
            yield return $"ConsumerGroupOptions.HandlerTimeout of {owner} must be between 00:00:00.001 and 1.00:00:00; it is {timeout}.";
        }

        if (AckMode is { } ackMode && !Enum.IsDefined(ackMode))
        {
            yield return $"ConsumerGroupOptions.AckMode of {owner} must be one of {string.Join(", ", Enum.GetNames<AckMode>())}; it is {(int)ackMode}.";
        }

        if (AckMode == EventBus.AckMode.Manual && Workers > 1)
        {
            yield return $"ConsumerGroupOptions.AckMode of {owner} is Manual with {Workers} workers; manual commits need one worker (with key-ordered workers the bus commits the lowest offset not yet completed).";
        }

        if (DeadLetterCapacity is < 0 or > EventBusOptions.MaxCapacity)
        {
            yield return $"ConsumerGroupOptions.DeadLetterCapacity of {owner} must be between 0 and {EventBusOptions.MaxCapacity}; it is {DeadLetterCapacity}.";
        }

        if (!Enum.IsDefined(ResetPolicy))
        {
            yield return $"ConsumerGroupOptions.ResetPolicy of {owner} must be one of {string.Join(", ", Enum.GetNames<OffsetResetPolicy>())}; it is {(int)ResetPolicy}.";
        }

        if (StopOnFailure && AckMode == EventBus.AckMode.BeforeHandling)
        {
            yield return $"ConsumerGroupOptions.StopOnFailure of {owner} is true with AckMode BeforeHandling; an at-most-once group commits each event before its handler runs, so a group stopped on a failed event could never resume on it. Leave StopOnFailure false (the failure is reported), or use AckMode.AfterHandling.";
        }

        if (FullPolicy is { } policy && policy is not (EventBus.FullPolicy.Wait or EventBus.FullPolicy.FailFast))
        {
            yield return $"ConsumerGroupOptions.FullPolicy of {owner} must be Wait or FailFast; it is {policy}. A consumer group never drops events: bound the stream with StreamOptions.MaxCount or MaxAge instead.";
        }

        if (!Enum.IsDefined(StartPosition.Kind))
        {
            yield return $"ConsumerGroupOptions.StartPosition of {owner} is not a valid position.";
        }

        foreach (var failure in Redelivery?.Validate($"ConsumerGroupOptions.Redelivery of {owner}") ?? [])
        {
            yield return failure;
        }
    }

    internal ConsumerGroupOptions Clone()
    {
        var clone = (ConsumerGroupOptions)MemberwiseClone();
        clone.Redelivery = Redelivery?.Clone();
        return clone;
    }
}
