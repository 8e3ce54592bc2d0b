using Microsoft.Extensions.Options;

namespace EventBus.Hosting;

/// <summary>
/// Validates the bus options together with everything registered with <see cref="EventBusBuilder"/> (topics, subscriptions,
/// streams, consumer groups, idempotency), so that one <see cref="OptionsValidationException"/> lists every invalid value.
/// </summary>
/// <remarks>
/// It runs where the options system validates: at host start (<c>ValidateOnStart</c>) and when the bus first reads its options.
/// The registry is complete by then: the builder fills it while services are registered, before the container is built.
/// </remarks>
internal sealed class EventBusOptionsValidator(EventBusRegistry registry) : IValidateOptions<EventBusOptions>
{
    public ValidateOptionsResult Validate(string? name, EventBusOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);

        // The bus reads only the unnamed options; a named instance is someone else's and has nothing to do with the registry.
        if (name is not null && name != Options.DefaultName)
        {
            return ValidateOptionsResult.Skip;
        }

        var failures = options.Validate()
            .Concat(registry.Topics.SelectMany(t => SubscriptionRules.Validate(t.Value, $"topic '{MessageTypes.GetKey(t.Key)}'")))
            .Concat(registry.HandlerOptions.SelectMany(h => SubscriptionRules.Validate(h.Value, $"subscription '{MessageTypes.GetKey(h.Key)}'")))
            .Concat(registry.Streams.SelectMany(s => s.Value.Validate($"stream '{MessageTypes.GetKey(s.Key)}'")))
            .Concat(registry.StreamGroups.SelectMany(g => g.Options.Validate($"consumer group '{g.Group}' on stream '{MessageTypes.GetKey(g.EventType)}'", g.Options.Capacity ?? options.DefaultCapacity)))
            .Concat(registry.PullSubscriptions.SelectMany(p => SubscriptionRules.ValidatePull(p.Options, $"pull subscription '{p.Name}' on topic '{MessageTypes.GetKey(p.EventType)}'")))
            .ToList();

        // The effective options of every subscription known now (handler over topic over bus defaults) must be valid too; they
        // need a redelivery policy to resolve, and a missing one is already reported above.
        if (options.DefaultRedelivery is not null)
        {
            // Handlers of an interface or base type included: their topics are created on first publish, but a bad combination
            // of their own options must fail now, not on every publish.
            failures.AddRange(registry.EventHandlers
                .SelectMany(h => SubscriptionRules.Resolve(registry, options, h.MessageType, h.HandlerType, DeliveryMode.Broadcast, h.IsBatch).Errors)
                .Concat(registry.CommandHandlers.SelectMany(h => SubscriptionRules.Resolve(registry, options, h.CommandType, h.HandlerType, DeliveryMode.Queue, isBatch: false).Errors))
                .Distinct());
        }

        // The idempotency store reads its options only when the first delivery resolves it; an invalid value must fail the start.
        if (registry.Idempotency is { } idempotency)
        {
            failures.AddRange(idempotency.Validate());
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
