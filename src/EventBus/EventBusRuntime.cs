using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using EventBus.Hosting;
using Microsoft.Extensions.DependencyInjection;
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
internal sealed class EventBusRuntime : IEventBus, ICommandBus, IEventBusControl, IDeadLetterQueue, IAsyncDisposable, IDisposable
{
    /// <summary>The subscription whose worker is running the current flow, if any (for deadlock detection).</summary>
    internal static readonly AsyncLocal<Subscription?> CurrentSubscription = new();

    private const int Created = 0, Running = 1, Stopping = 2, Stopped = 3;

    private static readonly TimeSpan AbandonGracePeriod = TimeSpan.FromSeconds(2);

    private readonly IServiceProvider _services;
    private readonly EventBusRegistry _registry;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly FrozenDictionary<Type, CommandRoute> _commands;
    private readonly ConcurrentDictionary<Type, Topic> _topicsByType = new();
    private readonly Lock _topicsLock = new();
    private readonly CancellationTokenSource _handlerCancellation = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly List<UndeliveredMessage> _unfinished = [];
    private Topic?[] _topicsBySlot = new Topic?[64];
    private int _state;
    private Task<StopReport>? _stopTask;

    public EventBusRuntime(IServiceProvider services, EventBusRegistry registry, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        Metrics = new EventBusMetrics(meterFactory, AllSubscriptions);
        Pending = registry.TrackPending ? new PendingTracker() : null;
        _services = services;
        _registry = registry;
        _logger = (ILogger?)loggerFactory?.CreateLogger("EventBus") ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;

        Options = new EventBusOptions();
        foreach (var configure in registry.ConfigureOptions)
        {
            configure(Options);
        }

        var failures = Options.Validate()
            .Concat(registry.Topics.SelectMany(t => Validate(t.Value, $"topic '{MessageTypes.GetKey(t.Key)}'")))
            .Concat(registry.HandlerOptions.SelectMany(h => Validate(h.Value, $"subscription '{MessageTypes.GetKey(h.Key)}'")))
            .ToList();

        // The effective options of every subscription known now (handler over topic over bus defaults) must be valid too.
        if (Options.DefaultRedelivery is not null)
        {
            // Handlers of an interface or base type included: their topics are created on first publish, but a bad combination
            // of their own options must fail now, not on every publish.
            failures.AddRange(registry.EventHandlers
                .Select(h => ResolveOptions(h.MessageType, h.HandlerType, DeliveryMode.Broadcast).Error)
                .Concat(registry.CommandHandlers.Select(h => ResolveOptions(h.CommandType, h.HandlerType, DeliveryMode.Queue).Error))
                .OfType<string>()
                .Distinct());
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(EventBusOptions), failures);
        }

        var problems = new List<string>();
        _commands = BuildCommandRoutes(problems);

        // Topics for every concrete type known now, so that start-up reports configuration problems and the snapshot lists them.
        var known = registry.EventHandlers.Select(h => h.MessageType).Concat(registry.Topics.Keys)
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
    }

    public EventBusOptions Options { get; }

    public bool IsRunning => Volatile.Read(ref _state) == Running;

    internal CancellationToken HandlerCancellation => _handlerCancellation.Token;

    /// <summary>Gets a token cancelled when a stop begins (delayed redeliveries stop waiting).</summary>
    internal CancellationToken StoppingToken => _stopping.Token;

    internal bool IsStopping => Volatile.Read(ref _state) >= Stopping;

    internal TimeProvider TimeProvider => _time;

    internal ILogger Logger => _logger;

    internal EventBusMetrics Metrics { get; }

    /// <summary>Gets the pending-message tracker, when a test harness turned it on; otherwise null.</summary>
    internal PendingTracker? Pending { get; }

    public int Count => AllSubscriptions().Sum(s => s.DeadLetters.Count);

    public ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default) =>
        PublishAsync(@event, null, cancellationToken);

    public ValueTask PublishAsync<TEvent>(TEvent @event, PublishOptions? options, CancellationToken cancellationToken = default)
    {
        if (@event is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(@event));
        }

        var topic = GetTopic(@event);
        if (topic.IsCommand)
        {
            ThrowHelper.ThrowCommandPublished(topic.MessageType);
        }

        return EventBusTelemetry.Source.HasListeners()
            ? PublishTracedAsync(topic, @event, options, "publish", cancellationToken)
            : topic.PublishAsync(@event, CreateContext(topic.Name, options), cancellationToken);
    }

    /// <summary>Publishes inside a <c>publish</c> span whose context travels in the envelope.</summary>
    private async ValueTask PublishTracedAsync(Topic topic, object message, PublishOptions? options, string operation, CancellationToken cancellationToken)
    {
        using var activity = StartProducerActivity(operation, topic.Name);
        var context = CreateContext(topic.Name, options);
        TagMessage(activity, context);
        try
        {
            await topic.PublishAsync(message, context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            SetError(activity, e);
            throw;
        }
    }

    internal static Activity? StartProducerActivity(string operation, string destination)
    {
        var activity = EventBusTelemetry.Source.StartActivity($"{operation} {destination}", ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(EventBusTelemetry.SystemAttribute, EventBusTelemetry.SystemName);
            activity.SetTag(EventBusTelemetry.DestinationAttribute, destination);
            activity.SetTag(EventBusTelemetry.OperationTypeAttribute, "send");
            activity.SetTag(EventBusTelemetry.OperationNameAttribute, operation);
        }

        return activity;
    }

    internal static void TagMessage(Activity? activity, in MessageContext context)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(EventBusTelemetry.MessageIdAttribute, context.MessageId.ToString());
            if (context.CorrelationId is { } correlation)
            {
                activity.SetTag(EventBusTelemetry.ConversationIdAttribute, correlation);
            }
        }
    }

    internal static void SetError(Activity? activity, Exception exception)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.SetTag(EventBusTelemetry.ErrorTypeAttribute, exception.GetType().FullName);
        }
    }

    public ValueTask PublishBatchAsync<TEvent>(IReadOnlyList<TEvent> events, PublishOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return default;
        }

        // A batch may mix runtime types (IDomainEvent): group by topic, keeping order within each topic. Each topic accepts
        // its part atomically; a batch of one runtime type (the common case) is therefore atomic as a whole.
        var groups = new List<(Topic Topic, List<object> Messages)>();
        foreach (var item in events)
        {
            if (item is null)
            {
                throw new ArgumentNullException(nameof(events), "A batch cannot contain null events.");
            }

            var topic = GetTopic(item);
            if (topic.IsCommand)
            {
                ThrowHelper.ThrowCommandPublished(topic.MessageType);
            }

            var index = groups.FindIndex(g => g.Topic == topic);
            if (index < 0)
            {
                groups.Add((topic, [item]));
            }
            else
            {
                groups[index].Messages.Add(item);
            }
        }

        return groups.Count == 1
            ? PublishGroup(groups[0].Topic, groups[0].Messages, options, cancellationToken)
            : PublishGroupsAsync(groups, options, cancellationToken);
    }

    public ValueTask<CommandResult> SendAsync(ICommand command, CancellationToken cancellationToken = default) =>
        SendAsync(command, null, cancellationToken);

    public ValueTask<CommandResult<TResult>> SendAsync<TResult>(ICommand<TResult> command, CancellationToken cancellationToken = default) =>
        SendCore<TResult>(command, null, cancellationToken);

    public ValueTask<CommandResult<TResult>> SendAsync<TResult>(ICommand<TResult> command, PublishOptions? options, CancellationToken cancellationToken = default) =>
        SendCore<TResult>(command, options, cancellationToken);

    public ValueTask<CommandResult> SendAsync(ICommand command, PublishOptions? options, CancellationToken cancellationToken = default)
    {
        var pending = SendCore<VoidResult>(command, options, cancellationToken);
        return pending.IsCompletedSuccessfully ? ValueTask.FromResult(ToVoid(pending.Result)) : AwaitVoid(pending);

        static async ValueTask<CommandResult> AwaitVoid(ValueTask<CommandResult<VoidResult>> pending) => ToVoid(await pending.ConfigureAwait(false));
        static CommandResult ToVoid(CommandResult<VoidResult> result) => result.IsAccepted ? CommandResult.Accepted : result.Rejection;
    }

    public async ValueTask InvokeAsync(ICommand command, CancellationToken cancellationToken = default)
    {
        var result = await SendAsync(command, cancellationToken).ConfigureAwait(false);
        if (!result.IsAccepted)
        {
            throw new CommandRejectedException(command.GetType(), result.Rejection);
        }
    }

    public async ValueTask<TResult> InvokeAsync<TResult>(ICommand<TResult> command, CancellationToken cancellationToken = default)
    {
        var result = await SendAsync(command, cancellationToken).ConfigureAwait(false);
        return result.IsAccepted ? result.Value : throw new CommandRejectedException(command.GetType(), result.Rejection);
    }

    public ValueTask EnqueueAsync<TCommand>(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default)
        where TCommand : class
    {
        if (command is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(command));
        }

        var topic = GetTopic(command);
        if (!topic.IsCommand)
        {
            ThrowHelper.ThrowEventEnqueued(topic.MessageType);
        }

        return EventBusTelemetry.Source.HasListeners()
            ? PublishTracedAsync(topic, command, options, "publish", cancellationToken)
            : topic.PublishAsync(command, CreateContext(topic.Name, options), cancellationToken);
    }

    public Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_topicsLock)
        {
            switch (_state)
            {
                case Running:
                    return Task.CompletedTask;
                case Stopping or Stopped:
                    throw new InvalidOperationException("The event bus was stopped; a stopped bus cannot be restarted. Build a new service provider to start again.");
            }

            foreach (var topic in _topicsByType.Values)
            {
                foreach (var subscription in topic.Subscriptions)
                {
                    subscription.Start();
                }
            }

            Volatile.Write(ref _state, Running);
            Log.BusStarted(_logger, _topicsByType.Count, _topicsByType.Values.Sum(t => t.Subscriptions.Length), _commands.Count);
        }

        return Task.CompletedTask;
    }

    public Task<StopReport> StopAsync(CancellationToken cancellationToken = default) => Stop(drain: true, cancellationToken);

    private Task<StopReport> Stop(bool drain, CancellationToken cancellationToken)
    {
        lock (_topicsLock)
        {
            return _stopTask ??= StopCoreAsync(drain, cancellationToken);
        }
    }

    public BusTopology DescribeTopology()
    {
        var topics = _topicsByType.Values
            .Select(t => new TopicDescription(t.Name, t.MessageType, t.IsCommand, false, t.Subscriptions.Select(s => s.Describe()).OrderBy(s => s.Name, StringComparer.Ordinal).ToList()))
            .ToList();

        // Handlers of interfaces and base types: described under that type, with the options they resolve to.
        foreach (var group in _registry.EventHandlers.Where(h => h.MessageType.IsInterface || h.MessageType.IsAbstract).GroupBy(h => h.MessageType))
        {
            var subscriptions = group.Select(h =>
            {
                var (settings, _) = ResolveOptions(h.MessageType, h.HandlerType, DeliveryMode.Broadcast);
                return new SubscriptionDescription(MessageTypes.GetKey(h.HandlerType), h.HandlerType, settings.Mode, settings.Workers, settings.Capacity, settings.FullPolicy,
                    settings.Redelivery.MaxDeliveries, settings.HandlerTimeout, settings.AckMode, h.IsBatch);
            }).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
            topics.Add(new TopicDescription(MessageTypes.GetKey(group.Key), group.Key, false, true, subscriptions));
        }

        var commands = _commands.Values.Select(r => new CommandDescription(r.CommandType, r.Context.HandlerType)).OrderBy(c => c.CommandType.FullName, StringComparer.Ordinal).ToList();
        return new BusTopology(topics.OrderBy(t => t.Name, StringComparer.Ordinal).ToList(), commands);
    }

    public IReadOnlyList<SubscriptionSnapshot> GetSnapshot() =>
        _topicsByType.Values.SelectMany(t => t.Subscriptions).Select(s => s.GetSnapshot())
            .OrderBy(s => s.Topic, StringComparer.Ordinal).ThenBy(s => s.Subscription, StringComparer.Ordinal).ToList();

    public IReadOnlyList<DeadLetter> GetDeadLetters(string? subscription = null) =>
        AllSubscriptions().Where(s => subscription is null || s.Name == subscription)
            .SelectMany(s => s.DeadLetters.Snapshot())
            .OrderBy(d => d.LastFailure).ThenBy(d => d.MessageId)
            .ToList();

    public async ValueTask<int> RedriveAsync(Func<DeadLetter, bool>? predicate = null, CancellationToken cancellationToken = default)
    {
        if (IsStopping)
        {
            ThrowHelper.ThrowStopped();
        }

        var redriven = 0;
        foreach (var subscription in AllSubscriptions())
        {
            var taken = subscription.DeadLetters.Take(predicate);
            var index = 0;
            try
            {
                for (; index < taken.Count; index++)
                {
                    while (!subscription.TryRequeue(taken[index]))
                    {
                        await subscription.WaitForRoomAsync(1, cancellationToken).ConfigureAwait(false);
                    }

                    redriven++;
                }
            }
            finally
            {
                if (index < taken.Count)
                {
                    subscription.DeadLetters.Restore(taken.Skip(index));
                }
            }
        }

        return redriven;
    }

    public int Purge(Func<DeadLetter, bool>? predicate = null) =>
        AllSubscriptions().Sum(s => s.DeadLetters.Take(predicate).Count);

    /// <summary>
    /// Disposal by the container. The container no longer creates scopes once its disposal has begun, so buffered messages cannot
    /// be handled: the bus finishes what is in flight and reports the rest as unfinished (stop first, e.g. with the host, to drain).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await Stop(drain: false, CancellationToken.None).ConfigureAwait(false);
        _handlerCancellation.Dispose();
        _stopping.Dispose();
        Metrics.Dispose();
    }

    /// <summary>
    /// Synchronous disposal (a container disposed with <c>Dispose</c> rather than <c>DisposeAsync</c>): stops the bus as
    /// <see cref="DisposeAsync"/> does, blocking for at most the stop timeout plus the abandon grace period.
    /// </summary>
    public void Dispose()
    {
        Stop(drain: false, CancellationToken.None).GetAwaiter().GetResult();
        _handlerCancellation.Dispose();
        _stopping.Dispose();
        Metrics.Dispose();
    }

    private Subscription[] AllSubscriptions() => _topicsByType.Values.SelectMany(t => t.Subscriptions).ToArray();

    internal void ReportUndelivered(UndeliveredMessage message)
    {
        var context = message.Context;
        switch (message.Reason)
        {
            case UndeliveredReason.HandlerFailed:
                Log.HandlerFailed(_logger, message.Subscription, context.MessageType, context.MessageId, context.DeliveryCount, message.Exception);
                break;
            case UndeliveredReason.DroppedOldest or UndeliveredReason.DroppedNewest:
                Log.MessageDropped(_logger, message.Subscription, context.MessageType, context.MessageId, message.Reason);
                break;
            case UndeliveredReason.CommandRejected:
                Log.CommandRejected(_logger, context.MessageType, context.MessageId, ((CommandRejectedException)message.Exception!).Rejection.Reason);
                break;
            case UndeliveredReason.Nacked or UndeliveredReason.DeadLetterDiscarded:
                break; // the dead-letter log entry says it all
            default:
                Log.MessageUnfinished(_logger, message.Subscription, context.MessageType, context.MessageId, message.Reason);
                break;
        }

        Pending?.Undelivered?.Invoke(message);
        if (Options.OnUndelivered is { } callback)
        {
            try
            {
                callback(message);
            }
            catch (Exception e)
            {
                Log.UndeliveredCallbackFailed(_logger, context.MessageType, context.MessageId, e);
            }
        }
    }

    internal void AddUnfinished(UndeliveredMessage message)
    {
        lock (_unfinished)
        {
            _unfinished.Add(message);
        }
    }

    private static IEnumerable<string> Validate(SubscriptionOptions options, string owner)
    {
        if (options.Mode is { } mode && !Enum.IsDefined(mode))
        {
            yield return $"SubscriptionOptions.Mode of {owner} must be Broadcast or Queue; it is {(int)mode}.";
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

    private FrozenDictionary<Type, CommandRoute> BuildCommandRoutes(List<string> problems)
    {
        var routes = new Dictionary<Type, CommandRoute>();
        foreach (var group in _registry.CommandHandlers.GroupBy(h => h.CommandType))
        {
            var handlers = group.ToList();
            if (handlers.Count > 1)
            {
                problems.Add($"The command '{group.Key.FullName}' has {handlers.Count} handlers ({string.Join(", ", handlers.Select(h => h.HandlerType.FullName))}); a command must have exactly one.");
                continue;
            }

            var registration = handlers[0];
            routes[group.Key] = registration.CreateRoute(new InvokerContext(_services, registration.HandlerType, registration.Lifetime, MiddlewareFor(group.Key)));
        }

        foreach (var command in _registry.KnownCommandTypes.Where(t => !routes.ContainsKey(t) && !_registry.CommandHandlers.Exists(h => h.CommandType == t)).OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            problems.Add($"The command '{command.FullName}' has no handler; a command must have exactly one (implement ICommandHandler<{command.Name}> or ICommandHandler<{command.Name}, TResult>).");
        }

        return routes.ToFrozenDictionary();
    }

    private MiddlewareRegistration[] MiddlewareFor(Type messageType) =>
        _registry.Middleware.Count == 0 ? MiddlewarePipeline.None : [.. _registry.Middleware];

    internal MessageContext CreateContext(string messageType, PublishOptions? options)
    {
        var now = _time.GetUtcNow();
        return new MessageContext(options?.MessageId ?? MessageId.NewId(now), messageType, now.UtcTicks, options, Activity.Current);
    }

    private ValueTask<CommandResult<TResult>> SendCore<TResult>(object command, PublishOptions? options, CancellationToken cancellationToken)
    {
        if (command is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(command));
        }

        if (Volatile.Read(ref _state) >= Stopping)
        {
            ThrowHelper.ThrowStopped();
        }

        if (!_commands.TryGetValue(command.GetType(), out var route))
        {
            ThrowHelper.ThrowUnknownCommand(command.GetType());
        }

        if (Metrics.Published.Enabled)
        {
            Metrics.Published.Add(1, EventBusMetrics.System, new(EventBusTelemetry.DestinationAttribute, route.Topic));
        }

        return EventBusTelemetry.Source.HasListeners()
            ? SendTracedAsync((ICommandSender<TResult>)route, route.Topic, command, options, cancellationToken)
            : ((ICommandSender<TResult>)route).SendAsync(command, CreateContext(route.Topic, options), cancellationToken);
    }

    /// <summary>Sends inside a <c>send</c> span; the handler runs within it, so what it publishes joins the trace.</summary>
    private async ValueTask<CommandResult<TResult>> SendTracedAsync<TResult>(ICommandSender<TResult> route, string topic, object command, PublishOptions? options, CancellationToken cancellationToken)
    {
        using var activity = StartProducerActivity("send", topic);
        var context = CreateContext(topic, options);
        TagMessage(activity, context);
        try
        {
            var result = await route.SendAsync(command, context, cancellationToken).ConfigureAwait(false);
            if (!result.IsAccepted)
            {
                activity?.SetTag("eventbus.command.rejected", result.Rejection.Reason);
            }

            return result;
        }
        catch (Exception e)
        {
            SetError(activity, e);
            throw;
        }
    }

    private Topic GetTopic<T>(T message)
    {
        // For a sealed static type the runtime type is known: one array read. Otherwise look up the runtime type.
        if (TypeSlot<T>.IsExact)
        {
            var slots = Volatile.Read(ref _topicsBySlot);
            var index = TypeSlot<T>.Index;
            if ((uint)index < (uint)slots.Length && slots[index] is { } cached)
            {
                return cached;
            }
        }

        var type = message!.GetType();
        if (!_topicsByType.TryGetValue(type, out var topic))
        {
            topic = GetOrCreateTopic(type, MessageTypes.IsCommand(type));
        }

        if (TypeSlot<T>.IsExact)
        {
            CacheSlot(TypeSlot<T>.Index, topic);
        }

        return topic;
    }

    private void CacheSlot(int index, Topic topic)
    {
        lock (_topicsLock)
        {
            var slots = _topicsBySlot;
            if (index >= slots.Length)
            {
                Array.Resize(ref slots, Math.Max(index + 1, slots.Length * 2));
            }

            slots[index] = topic;
            Volatile.Write(ref _topicsBySlot, slots);
        }
    }

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
            topic.Initialize(subscriptions);
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

    private Subscription[] CreateCommandSubscription(Topic topic)
    {
        if (!_commands.TryGetValue(topic.MessageType, out var route))
        {
            ThrowHelper.ThrowUnknownCommand(topic.MessageType);
        }

        return [CreateSubscription(topic, route.Context.HandlerType, route.CreateQueueInvoker(), DeliveryMode.Queue)];
    }

    private Subscription[] CreateEventSubscriptions(Topic topic)
    {
        // One subscription per handler type. A handler implementing several matching IEventHandler<> interfaces (its event and a
        // base interface) is subscribed once, through the most specific one, so it never runs twice for one event.
        var chosen = new Dictionary<Type, EventHandlerRegistration>();
        foreach (var registration in _registry.EventHandlers)
        {
            if (!registration.MessageType.IsAssignableFrom(topic.MessageType))
            {
                continue;
            }

            if (!chosen.TryGetValue(registration.HandlerType, out var current) || current.MessageType.IsAssignableFrom(registration.MessageType))
            {
                chosen[registration.HandlerType] = registration;
            }
        }

        if (chosen.Count == 0 && Options.RequireKnownEventTypes && !_registry.Topics.ContainsKey(topic.MessageType))
        {
            ThrowHelper.ThrowUnknownEvent(topic.MessageType);
        }

        return chosen.Values
            .Select(r => CreateSubscription(topic, r.HandlerType, r.CreateInvoker(new InvokerContext(_services, r.HandlerType, r.Lifetime, MiddlewareFor(topic.MessageType))), DeliveryMode.Broadcast))
            .ToArray();
    }

    private Subscription CreateSubscription(Topic topic, Type handlerType, HandlerInvoker invoker, DeliveryMode defaultMode)
    {
        var (settings, error) = ResolveOptions(topic.MessageType, handlerType, defaultMode);
        if (error is not null)
        {
            throw new OptionsValidationException(MessageTypes.GetKey(handlerType), typeof(SubscriptionOptions), [error]);
        }

        return new Subscription(this, topic, handlerType, invoker, settings);
    }

    /// <summary>The effective options of a subscription: the handler's over the topic's over the bus defaults.</summary>
    private (SubscriptionSettings Settings, string? Error) ResolveOptions(Type messageType, Type handlerType, DeliveryMode defaultMode)
    {
        var options = new SubscriptionOptions();
        options.Apply(_registry.Topics.GetValueOrDefault(messageType));
        options.Apply(_registry.HandlerOptions.GetValueOrDefault(handlerType));
        var mode = options.Mode ?? defaultMode;
        var workers = options.Workers ?? (mode == DeliveryMode.Queue ? Options.QueueWorkers : 1);
        var error = mode == DeliveryMode.Broadcast && workers != 1
            ? $"SubscriptionOptions.Workers of subscription '{MessageTypes.GetKey(handlerType)}' on topic '{MessageTypes.GetKey(messageType)}' is {workers}, but its Mode is Broadcast, which delivers in order with one worker; set Mode = DeliveryMode.Queue for competing workers."
            : null;
        var settings = new SubscriptionSettings(
            mode,
            workers,
            options.Capacity ?? Options.DefaultCapacity,
            options.FullPolicy ?? Options.DefaultFullPolicy,
            (options.Redelivery ?? Options.DefaultRedelivery).Clone(),
            options.HandlerTimeout ?? Options.DefaultHandlerTimeout,
            options.AckMode ?? AckMode.AfterHandling,
            options.DeadLetterCapacity ?? Options.DefaultDeadLetterCapacity);
        return (settings, error);
    }

    private ValueTask PublishGroup(Topic topic, List<object> messages, PublishOptions? options, CancellationToken cancellationToken)
    {
        if (EventBusTelemetry.Source.HasListeners())
        {
            return PublishGroupTracedAsync(topic, messages, options, cancellationToken);
        }

        var contexts = new MessageContext[messages.Count];
        for (var i = 0; i < contexts.Length; i++)
        {
            contexts[i] = CreateContext(topic.Name, options);
        }

        return topic.PublishBatchAsync([.. messages], contexts, cancellationToken);
    }

    private async ValueTask PublishGroupTracedAsync(Topic topic, List<object> messages, PublishOptions? options, CancellationToken cancellationToken)
    {
        using var activity = StartProducerActivity("publish", topic.Name);
        activity?.SetTag(EventBusTelemetry.BatchCountAttribute, messages.Count);
        var contexts = new MessageContext[messages.Count];
        for (var i = 0; i < contexts.Length; i++)
        {
            contexts[i] = CreateContext(topic.Name, options);
        }

        try
        {
            await topic.PublishBatchAsync([.. messages], contexts, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            SetError(activity, e);
            throw;
        }
    }

    private async ValueTask PublishGroupsAsync(List<(Topic Topic, List<object> Messages)> groups, PublishOptions? options, CancellationToken cancellationToken)
    {
        foreach (var (topic, messages) in groups)
        {
            await PublishGroup(topic, messages, options, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<StopReport> StopCoreAsync(bool drain, CancellationToken cancellationToken)
    {
        await Task.Yield(); // leave the caller's lock before waiting
        var started = _time.GetTimestamp();
        var wasRunning = Interlocked.Exchange(ref _state, Stopping) == Running;
        Topic[] topics;
        lock (_topicsLock)
        {
            topics = [.. _topicsByType.Values];
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (var topic in topics)
        {
            topic.Complete();
        }

        var subscriptions = topics.SelectMany(t => t.Subscriptions).ToArray();
        foreach (var subscription in subscriptions)
        {
            subscription.CancelScheduled();
        }
        if (!drain)
        {
            foreach (var subscription in subscriptions)
            {
                subscription.StopTaking();
            }
        }

        var drained = wasRunning && drain;
        if (wasRunning)
        {
            var all = Task.WhenAll(subscriptions.Select(s => s.Completion));
            try
            {
                await all.WaitAsync(Options.StopTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                drained = false;
                Log.StopTimedOut(_logger, Options.StopTimeout);
                foreach (var subscription in subscriptions)
                {
                    subscription.StopTaking();
                }

                await _handlerCancellation.CancelAsync().ConfigureAwait(false);
                try
                {
                    // Handlers that honour cancellation end now; one that ignores it is abandoned after a short grace period.
                    await all.WaitAsync(AbandonGracePeriod, _time, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }
            }
        }

        var unfinished = new List<UndeliveredMessage>();
        if (!drained)
        {
            foreach (var subscription in subscriptions)
            {
                subscription.CollectUnfinished(unfinished);
            }
        }

        lock (_unfinished)
        {
            unfinished.InsertRange(0, _unfinished);
        }

        drained = unfinished.Count == 0;
        Volatile.Write(ref _state, Stopped);
        var report = new StopReport(drained, _time.GetElapsedTime(started), unfinished);
        Log.BusStopped(_logger, report.Elapsed, report.Drained, unfinished.Count);
        return report;
    }
}
