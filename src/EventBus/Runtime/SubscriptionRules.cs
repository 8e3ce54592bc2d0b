namespace EventBus;

/// <summary>
/// The rules of subscription options: what makes one set invalid, and how a subscription's effective options resolve (the
/// handler's over the topic's over the bus defaults). Used by the options validator before the bus exists, and when topics are built.
/// </summary>
internal static class SubscriptionRules
{
    /// <summary>What is wrong with one set of subscription options (a topic's or a handler's), each a sentence naming the option and its value.</summary>
    public static IEnumerable<string> Validate(SubscriptionOptions options, string owner)
    {
        if (options.Mode is { } mode && !Enum.IsDefined(mode))
        {
            yield return $"SubscriptionOptions.Mode of {owner} must be one of {string.Join(", ", Enum.GetNames<DeliveryMode>())}; it is {(int)mode}.";
        }

        if (options.Workers is < 1 or > EventBusOptions.MaxWorkers)
        {
            yield return $"SubscriptionOptions.Workers of {owner} must be between 1 and {EventBusOptions.MaxWorkers}; it is {options.Workers}.";
        }

        if (options.Capacity is < 1 or > EventBusOptions.MaxCapacity)
        {
            yield return $"SubscriptionOptions.Capacity of {owner} must be between 1 and {EventBusOptions.MaxCapacity}; it is {options.Capacity}.";
        }

        if (options.FullPolicy is { } policy && !Enum.IsDefined(policy))
        {
            yield return $"SubscriptionOptions.FullPolicy of {owner} must be one of {string.Join(", ", Enum.GetNames<FullPolicy>())}; it is {(int)policy}.";
        }

        if (options.AckMode is { } ackMode && ackMode is not (AckMode.AfterHandling or AckMode.BeforeHandling))
        {
            yield return $"SubscriptionOptions.AckMode of {owner} must be AfterHandling or BeforeHandling (Manual is for consumer groups: a subscription acknowledges when its handler returns); it is {(Enum.IsDefined(ackMode) ? ackMode.ToString() : ((int)ackMode).ToString(System.Globalization.CultureInfo.InvariantCulture))}.";
        }

        if (options.HandlerTimeout is { } timeout && (timeout < TimeSpan.FromMilliseconds(1) || timeout > TimeSpan.FromDays(1)))
        {
            yield return $"SubscriptionOptions.HandlerTimeout of {owner} must be between 00:00:00.001 and 1.00:00:00; it is {timeout}.";
        }

        if (options.DeadLetterCapacity is < 0 or > EventBusOptions.MaxCapacity)
        {
            yield return $"SubscriptionOptions.DeadLetterCapacity of {owner} must be between 0 and {EventBusOptions.MaxCapacity}; it is {options.DeadLetterCapacity}.";
        }

        foreach (var failure in options.Redelivery?.Validate($"SubscriptionOptions.Redelivery of {owner}") ?? [])
        {
            yield return failure;
        }
    }

    /// <summary>
    /// What is wrong with the options of a pull subscription: the ranges any subscription's options must respect, and the options
    /// that belong to a handler, which a pull subscription has not.
    /// </summary>
    public static IEnumerable<string> ValidatePull(SubscriptionOptions options, string owner)
    {
        foreach (var failure in Validate(options, owner))
        {
            yield return failure;
        }

        var handlerOptions = new (string Name, object? Value)[]
        {
            (nameof(SubscriptionOptions.Mode), options.Mode),
            (nameof(SubscriptionOptions.Workers), options.Workers),
            (nameof(SubscriptionOptions.Redelivery), options.Redelivery),
            (nameof(SubscriptionOptions.HandlerTimeout), options.HandlerTimeout),
            (nameof(SubscriptionOptions.AckMode), options.AckMode),
            (nameof(SubscriptionOptions.DeadLetterCapacity), options.DeadLetterCapacity),
        };
        foreach (var (name, _) in handlerOptions.Where(o => o.Value is not null))
        {
            yield return $"SubscriptionOptions.{name} of {owner} is set, but a pull subscription has no handler: its readers take its events, each acknowledged when read. Set only Capacity and FullPolicy.";
        }
    }

    /// <summary>
    /// The effective options of a pull subscription: its capacity and full policy over the topic's over the bus defaults. Its
    /// readers compete for its events (each goes to one reader) and no worker of the bus takes them (none: zero workers); an event
    /// is acknowledged when read (at most once), so it is never redelivered or dead-lettered.
    /// </summary>
    public static SubscriptionSettings ResolvePull(EventBusRegistry registry, EventBusOptions bus, PullSubscriptionRegistration pull)
    {
        var options = new SubscriptionOptions();
        options.Apply(registry.Topics.GetValueOrDefault(pull.EventType));
        options.Apply(pull.Options);
        return new SubscriptionSettings(
            DeliveryMode.Queue,
            Workers: 0,
            options.Capacity ?? bus.DefaultCapacity,
            options.FullPolicy ?? bus.DefaultFullPolicy,
            new RedeliveryOptions(),
            HandlerTimeout: null,
            AckMode.BeforeHandling,
            DeadLetterCapacity: 0);
    }

    /// <summary>
    /// The effective options of a subscription: the handler's over the topic's over the bus defaults; with the combinations that
    /// the subscription cannot honour (each a full sentence naming the option and its value), empty when there is none.
    /// </summary>
    public static (SubscriptionSettings Settings, List<string> Errors) Resolve(EventBusRegistry registry, EventBusOptions bus, Type messageType, Type handlerType, DeliveryMode defaultMode, bool isBatch)
    {
        var options = new SubscriptionOptions();
        options.Apply(registry.Topics.GetValueOrDefault(messageType));
        options.Apply(registry.HandlerOptions.GetValueOrDefault(handlerType));
        var mode = options.Mode ?? defaultMode;
        var workers = options.Workers ?? (mode is DeliveryMode.Queue or DeliveryMode.KeyOrdered ? bus.QueueWorkers : 1);
        var fullPolicy = options.FullPolicy ?? bus.DefaultFullPolicy;
        var subscription = $"subscription '{MessageTypes.GetKey(handlerType)}' on topic '{MessageTypes.GetKey(messageType)}'";
        var errors = new List<string>();
        if (mode == DeliveryMode.Broadcast && workers != 1)
        {
            errors.Add($"SubscriptionOptions.Workers of {subscription} is {workers}, but its Mode is Broadcast, which delivers in order with one worker; set Mode = DeliveryMode.Queue for competing workers, or DeliveryMode.KeyOrdered for parallel workers in order per partition key.");
        }

        if (mode == DeliveryMode.KeyOrdered && isBatch)
        {
            errors.Add($"SubscriptionOptions.Mode of {subscription} is KeyOrdered, but its handler is a batch handler (AddBatchEventHandler), whose batches mix keys; use Mode = DeliveryMode.Queue or Broadcast for a batch handler, or register it with AddEventHandler.");
        }

        if (mode == DeliveryMode.KeyOrdered && fullPolicy == FullPolicy.DropOldest)
        {
            errors.Add($"SubscriptionOptions.FullPolicy of {subscription} is DropOldest, but its Mode is KeyOrdered, whose buffer is one lane per worker with no oldest message across them; use FullPolicy.DropNewest, Wait or FailFast.");
        }

        var settings = new SubscriptionSettings(
            mode,
            workers,
            options.Capacity ?? bus.DefaultCapacity,
            fullPolicy,
            (options.Redelivery ?? bus.DefaultRedelivery).Clone(),
            options.HandlerTimeout ?? bus.DefaultHandlerTimeout,
            options.AckMode ?? AckMode.AfterHandling,
            options.DeadLetterCapacity ?? bus.DefaultDeadLetterCapacity);
        return (settings, errors);
    }
}
