using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using EventBus.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EventBus;

/// <summary>
/// The in-memory bus: owns the topics (one per message type), routes commands, and runs the subscriptions' workers.
/// </summary>
/// <remarks>
/// Topics are created when the bus is built for every concrete message type a handler declares or a topic declaration names,
/// and on first publish for other types (an event whose handlers declare only a base type). Lookup by a sealed static type is
/// one array read (<see cref="TypeSlot{T}"/>); otherwise by the runtime type in a dictionary, so that an event published as
/// its interface (<c>IDomainEvent</c>) still reaches the handlers of its concrete type.
/// </remarks>
[DebuggerDisplay("EventBus: {_state}, {_topicsByType.Count} topic(s)")]
internal sealed partial class EventBusRuntime : IEventBus, ICommandBus, IEventBusControl, IDeadLetterQueue, IAsyncDisposable, IDisposable
{
    /// <summary>The subscription or consumer group whose worker is running the current flow, if any (for deadlock detection).</summary>
    internal static readonly AsyncLocal<object?> CurrentSubscription = new();

    private const int Created = 0, Running = 1, Stopping = 2, Stopped = 3;

    private readonly IServiceProvider _services;
    private readonly EventBusRegistry _registry;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly bool _stampInlineSends;
    private readonly TypeMap<CommandRoute> _commands;
    private readonly ConcurrentDictionary<Type, Topic> _topicsByType = new();
    private readonly Lock _topicsLock = new();
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private Topic?[] _topicsBySlot = new Topic?[64];
    private int _state;
    private Task<StopReport>? _stopTask;

    public EventBusRuntime(IServiceProvider services, EventBusRegistry registry, IOptions<EventBusOptions> options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        // The first read runs the configure callbacks and EventBusOptionsValidator, which checks the registered topics, subscriptions,
        // streams and groups against these options: an invalid value throws one OptionsValidationException before anything is built.
        Options = options.Value;
        Metrics = new EventBusMetrics(meterFactory, AllSubscriptions, Streams);
        Pending = registry.TrackPending ? new PendingTracker() : null;
        _services = services;
        _registry = registry;
        _logger = (ILogger?)loggerFactory?.CreateLogger("EventBus") ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _stampInlineSends = Options.StampInlineSends;
        Environment = new DeliveryEnvironment(_time, _logger, Options, Metrics, Pending, new StopSignals(services), new FailureReporter(_logger, Options.OnUndelivered, Pending));

        var problems = new List<string>();
        _commands = BuildCommandRoutes(problems);

        // Topics for every concrete type known now, so that start-up reports configuration problems and the snapshot lists them.
        var known = registry.EventHandlers.Select(h => h.MessageType).Concat(registry.Topics.Keys).Concat(registry.Streams.Keys)
            .Where(t => !t.IsAbstract && !t.IsInterface && !MessageTypes.IsCommand(t))
            .Distinct();
        foreach (var type in known)
        {
            try
            {
                GetOrCreateTopic(type, isCommand: false);
            }
            catch (EventBusConfigurationException e)
            {
                problems.AddRange(e.Problems);
            }
        }

        if (problems.Count > 0)
        {
            throw new EventBusConfigurationException(problems);
        }

        ReserveRegisteredGroups();
        foreach (var built in registry.Built)
        {
            built(this);
        }
    }

    public EventBusOptions Options { get; }

    public bool IsRunning => Volatile.Read(ref _state) == Running;

    /// <summary>Gets what the bus's subscriptions, groups and command queues share: the clock, the log, the stop, the failure reports.</summary>
    internal DeliveryEnvironment Environment { get; }

    internal bool IsStopping => Volatile.Read(ref _state) >= Stopping;

    internal TimeProvider TimeProvider => _time;

    internal ILogger Logger => _logger;

    internal EventBusMetrics Metrics { get; }

    /// <summary>Gets the pending-message tracker, when a test harness turned it on; otherwise null.</summary>
    internal PendingTracker? Pending { get; }

    private Subscription[] AllSubscriptions() => _topicsByType.Values.SelectMany(t => t.Subscriptions).ToArray();

    internal static IEnumerable<string> Validate(SubscriptionOptions options, string owner)
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

        if (options.AckMode is { } ackMode && !Enum.IsDefined(ackMode))
        {
            yield return $"SubscriptionOptions.AckMode of {owner} must be AfterHandling or BeforeHandling; it is {(int)ackMode}.";
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

    private MiddlewareRegistration[] MiddlewareFor(Type messageType) =>
        _registry.Middleware.Count == 0 ? MiddlewarePipeline.None : [.. _registry.Middleware];

    private Topic GetOrCreateTopic(Type type, bool isCommand)
    {
        lock (_topicsLock)
        {
            if (_topicsByType.TryGetValue(type, out var existing))
            {
                return existing;
            }

            var topic = new Topic(type, isCommand, Metrics, Pending);
            var subscriptions = isCommand ? CreateCommandSubscription(topic) : CreateEventSubscriptions(topic);
            var stream = isCommand ? null : StreamOptionsFor(type);
            topic.Initialize(subscriptions, stream is null ? null : new StreamLog(topic, topic.SyncRoot, stream, _time));
            if (_state == Running)
            {
                foreach (var subscription in subscriptions)
                {
                    subscription.Start();
                }
            }
            else if (_state >= Stopping)
            {
                topic.Complete();
            }

            _topicsByType[type] = topic;
            return topic;
        }
    }

    private Subscription[] CreateEventSubscriptions(Topic topic)
    {
        // One subscription per handler type. A handler implementing several matching IEventHandler<> interfaces (its event and a
        // base interface) is subscribed once, through the most specific one, so it never runs twice for one event.
        var chosen = new Dictionary<Type, EventHandlerRegistration>();
        foreach (var registration in _registry.EventHandlers)
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

        if (chosen.Count == 0 && Options.RequireKnownEventTypes && !_registry.Topics.ContainsKey(topic.MessageType) && !_registry.Streams.ContainsKey(topic.MessageType))
        {
            ThrowHelper.ThrowUnknownEvent(topic.MessageType);
        }

        return chosen.Values
            .Select(r => CreateSubscription(topic, r.HandlerType, r.CreateInvoker(new InvokerContext(_services, r.HandlerType, r.Lifetime, MiddlewareFor(topic.MessageType))), DeliveryMode.Broadcast, r.IsBatch))
            .ToArray();
    }

    /// <summary>A handler registered as a consumer group's handler of an event type is not also a subscription of it (e.g. when a scan finds it).</summary>
    private bool IsGroupHandler(EventHandlerRegistration registration) =>
        _registry.StreamGroups.Exists(g => g.HandlerType == registration.HandlerType && g.EventType == registration.MessageType);

    private Subscription CreateSubscription(Topic topic, Type handlerType, HandlerInvoker invoker, DeliveryMode defaultMode, bool isBatch)
    {
        var (settings, errors) = ResolveOptions(topic.MessageType, handlerType, defaultMode, isBatch);
        if (errors.Count > 0)
        {
            throw new OptionsValidationException(MessageTypes.GetKey(handlerType), typeof(SubscriptionOptions), errors);
        }

        return new Subscription(Environment, topic, handlerType, invoker, settings);
    }

    /// <summary>
    /// The effective options of a subscription: the handler's over the topic's over the bus defaults; with the combinations that
    /// the subscription cannot honour (each a full sentence naming the option and its value), empty when there is none.
    /// </summary>
    private (SubscriptionSettings Settings, List<string> Errors) ResolveOptions(Type messageType, Type handlerType, DeliveryMode defaultMode, bool isBatch) =>
        ResolveOptions(_registry, Options, messageType, handlerType, defaultMode, isBatch);

    /// <inheritdoc cref="ResolveOptions(Type, Type, DeliveryMode, bool)"/>
    /// <remarks>Static so that <see cref="EventBusOptionsValidator"/> reports these combinations before the bus exists.</remarks>
    internal static (SubscriptionSettings Settings, List<string> Errors) ResolveOptions(EventBusRegistry registry, EventBusOptions bus, Type messageType, Type handlerType, DeliveryMode defaultMode, bool isBatch)
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
