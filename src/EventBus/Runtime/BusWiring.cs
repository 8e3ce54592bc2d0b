using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace EventBus;

/// <summary>
/// Turns the registrations into the bus's parts: the command routes, each topic with its subscriptions (and its log, for a stream),
/// the invokers of registered consumer groups, and the description of what is wired but not built yet (for the topology).
/// </summary>
internal sealed class BusWiring(EventBusRegistry registry, EventBusOptions options, DeliveryEnvironment environment, IServiceProvider services)
{
    // Where streams keep their events: in memory unless a storage package registered its own.
    private readonly IStreamStorageFactory _streamStorage = services.GetService<IStreamStorageFactory>() ?? SegmentedStreamStorage.Factory;

    public EventBusRegistry Registry => registry;

    /// <summary>Builds the route of every command type; a type with two handlers, or a scanned one with none, is a problem.</summary>
    public TypeMap<CommandRoute> BuildCommandRoutes(List<string> problems)
    {
        var routes = new Dictionary<Type, CommandRoute>();
        foreach (var group in registry.CommandHandlers.GroupBy(h => h.CommandType))
        {
            var handlers = group.ToList();
            if (handlers.Count > 1)
            {
                problems.Add($"The command '{group.Key.FullName}' has {handlers.Count} handlers ({string.Join(", ", handlers.Select(h => h.HandlerType.FullName))}); a command must have exactly one.");
                continue;
            }

            var registration = handlers[0];
            routes[group.Key] = registration.CreateRoute(InvokerContextFor(registration.HandlerType, registration.Lifetime));
        }

        foreach (var command in registry.KnownCommandTypes.Where(t => !routes.ContainsKey(t) && !registry.CommandHandlers.Exists(h => h.CommandType == t)).OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            problems.Add($"The command '{command.FullName}' has no handler; a command must have exactly one (implement ICommandHandler<{command.Name}> or ICommandHandler<{command.Name}, TResult>).");
        }

        return new TypeMap<CommandRoute>(routes);
    }

    /// <summary>The concrete event types known when the bus is built: their topics are created then, so that start-up reports their problems.</summary>
    public IEnumerable<Type> KnownEventTypes() =>
        registry.EventHandlers.Select(h => h.MessageType).Concat(registry.Topics.Keys).Concat(registry.Streams.Keys).Concat(registry.PullSubscriptions.Select(p => p.EventType))
            .Where(t => !t.IsAbstract && !t.IsInterface && !MessageTypes.IsCommand(t))
            .Distinct();

    /// <summary>Whether <paramref name="type"/> is declared as a stream (or has a registered consumer group).</summary>
    public bool IsStream(Type type) => registry.Streams.ContainsKey(type);

    /// <summary>Creates the topic of <paramref name="type"/>: its subscriptions, built but not started, and its log when it is a stream.</summary>
    public Topic CreateTopic(Type type, bool isCommand, TypeMap<CommandRoute> commands)
    {
        var topic = new Topic(type, isCommand, environment.Metrics, environment.Observers, environment.Pending);
        var subscriptions = isCommand ? CreateCommandSubscription(topic, commands) : CreateEventSubscriptions(topic);
        var stream = isCommand ? null : registry.Streams.GetValueOrDefault(type);
        topic.Initialize(subscriptions, stream is null ? null : new StreamLog(topic, topic.SyncRoot, stream, environment.Time, _streamStorage));
        return topic;
    }

    /// <summary>The invoker of a consumer group registered with the builder.</summary>
    public HandlerInvoker CreateGroupInvoker(StreamGroupRegistration registration) =>
        registration.CreateInvoker(InvokerContextFor(registration.HandlerType, registration.Lifetime));

    /// <summary>The effective options of a subscription (the handler's over the topic's over the bus defaults).</summary>
    public SubscriptionSettings ResolveSettings(Type messageType, Type handlerType, DeliveryMode defaultMode, bool isBatch) =>
        SubscriptionRules.Resolve(registry, options, messageType, handlerType, defaultMode, isBatch).Settings;

    private InvokerContext InvokerContextFor(Type handlerType, Microsoft.Extensions.DependencyInjection.ServiceLifetime lifetime) =>
        new(services, handlerType, lifetime, registry.Middleware.Count == 0 ? MiddlewarePipeline.None : [.. registry.Middleware]);

    private Subscription[] CreateEventSubscriptions(Topic topic)
    {
        // One subscription per handler type. A handler implementing several matching IEventHandler<> interfaces (its event and a
        // base interface) is subscribed once, through the most specific one, so it never runs twice for one event.
        var chosen = new Dictionary<Type, EventHandlerRegistration>();
        foreach (var registration in registry.EventHandlers)
        {
            if (!registration.MessageType.IsAssignableFrom(topic.MessageType) || IsGroupHandler(registration))
            {
                continue;
            }

            if (!chosen.TryGetValue(registration.HandlerType, out var current) || current.MessageType.IsAssignableFrom(registration.MessageType))
            {
                chosen[registration.HandlerType] = registration;
            }
        }

        var pulls = registry.PullSubscriptions.Where(p => p.EventType == topic.MessageType).ToList();
        if (chosen.Count == 0 && pulls.Count == 0 && options.RequireKnownEventTypes && !registry.Topics.ContainsKey(topic.MessageType) && !registry.Streams.ContainsKey(topic.MessageType))
        {
            ThrowHelper.ThrowUnknownEvent(topic.MessageType);
        }

        return chosen.Values
            .Select(r => CreateSubscription(topic, r.HandlerType, r.CreateInvoker(InvokerContextFor(r.HandlerType, r.Lifetime)), DeliveryMode.Broadcast, r.IsBatch))
            .Concat(pulls.Select(p => CreatePullSubscription(topic, p, chosen.Keys)))
            .ToArray();
    }

    /// <summary>A pull subscription: no handler, no worker; its readers take from its buffer.</summary>
    private Subscription CreatePullSubscription(Topic topic, PullSubscriptionRegistration pull, IEnumerable<Type> handlerTypes)
    {
        // Names key snapshots, reports and dead letters: a pull subscription named like a handler subscription of the same topic
        // would be mistaken for it.
        if (handlerTypes.Any(h => MessageTypes.GetKey(h) == pull.Name))
        {
            throw new EventBusConfigurationException([$"The pull subscription '{pull.Name}' on topic '{topic.Name}' has the name of a handler subscription of that topic (its handler type's full name); give it another name."]);
        }

        return new Subscription(environment, topic, pull.ReaderType, PullInvoker.Instance, SubscriptionRules.ResolvePull(registry, options, pull), pull.Name);
    }

    /// <summary>A handler registered as a consumer group's handler of an event type is not also a subscription of it (e.g. when a scan finds it).</summary>
    private bool IsGroupHandler(EventHandlerRegistration registration) =>
        registry.StreamGroups.Exists(g => g.HandlerType == registration.HandlerType && g.EventType == registration.MessageType);

    private Subscription[] CreateCommandSubscription(Topic topic, TypeMap<CommandRoute> commands)
    {
        if (!commands.TryGetValue(topic.MessageType, out var route))
        {
            ThrowHelper.ThrowUnknownCommand(topic.MessageType);
        }

        return [CreateSubscription(topic, route.Context.HandlerType, route.CreateQueueInvoker(), DeliveryMode.Queue, isBatch: false)];
    }

    private Subscription CreateSubscription(Topic topic, Type handlerType, HandlerInvoker invoker, DeliveryMode defaultMode, bool isBatch)
    {
        var (settings, errors) = SubscriptionRules.Resolve(registry, options, topic.MessageType, handlerType, defaultMode, isBatch);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(MessageTypes.GetKey(handlerType), typeof(SubscriptionOptions), errors);
        }

        return new Subscription(environment, topic, handlerType, invoker, settings);
    }
}
