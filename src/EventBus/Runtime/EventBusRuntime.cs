using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EventBus;

/// <summary>
/// The bus: builds its parts from the registrations when the container makes it, and runs their lifecycle
/// (<see cref="IEventBusControl"/>): start, drain and stop, snapshot and topology. Each public service is a part of its own:
/// <see cref="Publisher"/> (<see cref="IEventBus"/>), <see cref="Commands"/> (<see cref="ICommandBus"/>), <see cref="Streams"/>
/// (<see cref="IEventStreams"/>) and <see cref="DeadLetters"/> (<see cref="IDeadLetterQueue"/>); they share the topics and a
/// <see cref="DeliveryEnvironment"/>, never the runtime.
/// </summary>
/// <remarks>
/// Topics are created when the bus is built for every concrete message type a handler declares or a topic declaration names,
/// and on first publish for other types (an event whose handlers declare only a base type).
/// </remarks>
[DebuggerDisplay("EventBus: {_lifecycle.Phase}, {_topics.All.Count} topic(s)")]
internal sealed class EventBusRuntime : IEventBusControl, IAsyncDisposable, IDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly BusLifecycle _lifecycle;
    private readonly BusWiring _wiring;
    private readonly TopicTable _topics;
    private readonly SemaphoreSlim _startGate = new(1, 1);
    private Task<StopReport>? _stopTask;
    private StreamConsumer[] _groupsStopped = []; // the groups the stop stopped: their final figures stay in the snapshot

    public EventBusRuntime(IServiceProvider services, EventBusRegistry registry, IOptions<EventBusOptions> options, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null, IMeterFactory? meterFactory = null)
    {
        // The first read runs the configure callbacks and EventBusOptionsValidator, which checks the registered topics, subscriptions,
        // streams and groups against these options: an invalid value throws one OptionsValidationException before anything is built.
        Options = options.Value;
        Metrics = new EventBusMetrics(meterFactory, () => _topics!.Subscriptions(), () => Streams!.Logs());
        Pending = registry.TrackPending ? new PendingTracker() : null;
        _logger = (ILogger?)loggerFactory?.CreateLogger("EventBus") ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _lifecycle = new BusLifecycle(services);
        Observers = new BusObservers(_logger);
        foreach (var observer in services.GetServices<IEventBusObserver>())
        {
            Observers.Add(observer);
        }

        Environment = new DeliveryEnvironment(_time, _logger, Options, Metrics, Observers, Pending, _lifecycle, new FailureReporter(_logger, Options.OnUndelivered, Observers));
        _wiring = new BusWiring(registry, Options, Environment, services);

        var problems = new List<string>();
        var routes = _wiring.BuildCommandRoutes(problems);
        _topics = new TopicTable(_lifecycle, (type, isCommand) => _wiring.CreateTopic(type, isCommand, routes));
        Publisher = new EventPublisher(_topics, _time);
        Commands = new CommandBus(routes, _topics, Publisher, _lifecycle, Metrics, _time, Options.StampInlineSends);
        Streams = new EventStreams(_topics, _wiring.IsStream, Environment, services);
        DeadLetters = new DeadLetterQueue(_topics, Streams, _lifecycle);

        // Topics for every concrete type known now, so that start-up reports configuration problems and the snapshot lists them.
        foreach (var type in _wiring.KnownEventTypes())
        {
            try
            {
                _topics.GetOrCreate(type, isCommand: false);
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

        // Registered groups join their streams now, before anything can be published.
        foreach (var group in registry.StreamGroups)
        {
            Streams.Reserve(group.EventType, group.Group, _wiring.CreateGroupInvoker(group), group.Options);
        }

        foreach (var built in registry.Built)
        {
            built(this);
        }
    }

    public EventBusOptions Options { get; }

    public bool IsRunning => _lifecycle.IsRunning;

    /// <summary>Gets the publisher of events (<see cref="IEventBus"/>).</summary>
    public EventPublisher Publisher { get; }

    /// <summary>Gets the command bus (<see cref="ICommandBus"/>).</summary>
    public CommandBus Commands { get; }

    /// <summary>Gets the streams and their consumer groups (<see cref="IEventStreams"/>).</summary>
    public EventStreams Streams { get; }

    /// <summary>Gets the dead letters of every subscription and group (<see cref="IDeadLetterQueue"/>).</summary>
    public DeadLetterQueue DeadLetters { get; }

    /// <summary>Gets what the bus's subscriptions, groups and command queues share: the clock, the log, the lifecycle, the failure reports.</summary>
    internal DeliveryEnvironment Environment { get; }

    internal EventBusMetrics Metrics { get; }

    /// <summary>Gets the bus's observers: the registered <see cref="IEventBusObserver"/>s, and one the test harness adds while the bus is built.</summary>
    internal BusObservers Observers { get; }

    /// <summary>Gets the pending-message tracker, when a test harness turned it on; otherwise null.</summary>
    internal PendingTracker? Pending { get; }

    private static readonly TimeSpan AbandonGracePeriod = TimeSpan.FromSeconds(2);

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (_lifecycle.Phase == BusLifecycle.BusPhase.Created)
        {
            // Consumer groups load their committed offsets and join their streams before anything runs.
            await _startGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await Streams.PrepareRegisteredGroupsAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _startGate.Release();
            }
        }

        lock (_lifecycle.SyncRoot)
        {
            switch (_lifecycle.Phase)
            {
                case BusLifecycle.BusPhase.Running:
                    return;
                case BusLifecycle.BusPhase.Stopping or BusLifecycle.BusPhase.Stopped:
                    throw new InvalidOperationException("The event bus was stopped; a stopped bus cannot be restarted. Build a new service provider to start again.");
            }

            foreach (var subscription in _topics.Subscriptions())
            {
                subscription.Start();
            }

            Streams.StartConsumers();
            _lifecycle.SetRunning();
            Log.BusStarted(_logger, _topics.All.Count, _topics.All.Sum(t => t.Subscriptions.Length), Commands.Routes.Count);
        }
    }

    public Task<StopReport> StopAsync(CancellationToken cancellationToken = default) => Stop(drain: true, cancellationToken);

    private Task<StopReport> Stop(bool drain, CancellationToken cancellationToken)
    {
        lock (_lifecycle.SyncRoot)
        {
            return _stopTask ??= StopCoreAsync(drain, cancellationToken);
        }
    }

    /// <summary>
    /// Disposal by the container. The container no longer creates scopes once its disposal has begun, so buffered messages cannot
    /// be handled: the bus finishes what is in flight and reports the rest as unfinished (stop first, e.g. with the host, to drain).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await Stop(drain: false, CancellationToken.None).ConfigureAwait(false);
        _lifecycle.Dispose();
        _startGate.Dispose();
        Metrics.Dispose();
    }

    /// <summary>
    /// Synchronous disposal (a container disposed with <c>Dispose</c> rather than <c>DisposeAsync</c>): stops the bus as
    /// <see cref="DisposeAsync"/> does, blocking for at most the stop timeout plus the abandon grace period.
    /// </summary>
    public void Dispose()
    {
        Stop(drain: false, CancellationToken.None).GetAwaiter().GetResult();
        _lifecycle.Dispose();
        _startGate.Dispose();
        Metrics.Dispose();
    }

    private async Task<StopReport> StopCoreAsync(bool drain, CancellationToken cancellationToken)
    {
        await Task.Yield(); // leave the caller's lock before waiting
        var started = _time.GetTimestamp();
        var wasRunning = await _lifecycle.BeginStopAsync().ConfigureAwait(false);
        Topic[] topics;
        lock (_lifecycle.SyncRoot)
        {
            topics = [.. _topics.All];
        }

        foreach (var topic in topics)
        {
            topic.Complete();
        }

        var subscriptions = topics.SelectMany(t => t.Subscriptions).ToArray();
        var consumers = Streams.Consumers();
        foreach (var subscription in subscriptions)
        {
            subscription.CancelScheduled();
        }

        if (!drain)
        {
            StopTaking(subscriptions, consumers);
        }

        var drained = wasRunning && drain;
        if (wasRunning)
        {
            var all = Task.WhenAll(subscriptions.Select(s => s.Completion).Concat(consumers.Select(c => c.Stopped)));
            try
            {
                await all.WaitAsync(Options.StopTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                drained = false;
                Log.StopTimedOut(_logger, Options.StopTimeout);
                StopTaking(subscriptions, consumers);

                await _lifecycle.CancelHandlersAsync().ConfigureAwait(false);
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

        unfinished.InsertRange(0, Environment.Failures.Unfinished());

        // A group's unread events stay in its stream: its lag, not a loss. Groups that never started leave the stream now.
        var lagging = new List<SubscriptionSnapshot>();
        foreach (var consumer in consumers)
        {
            if (!consumer.IsStarted)
            {
                await consumer.DisposeAsync().ConfigureAwait(false);
            }

            if (consumer.GetSnapshot() is { Lag: > 0 } info)
            {
                lagging.Add(info);
            }
        }

        Volatile.Write(ref _groupsStopped, consumers);
        drained = unfinished.Count == 0 && lagging.Count == 0;
        _lifecycle.SetStopped();
        var report = new StopReport(drained, _time.GetElapsedTime(started), unfinished, lagging);
        if (wasRunning && !drain)
        {
            // Disposal is not a stop: say so, rather than let the unfinished messages read as a stop timeout.
            Log.DisposedWithoutStop(_logger, unfinished.Count);
        }

        Log.BusStopped(_logger, report.Elapsed, report.Drained, unfinished.Count, lagging.Count);
        return report;
    }

    private static void StopTaking(Subscription[] subscriptions, StreamConsumer[] consumers)
    {
        foreach (var subscription in subscriptions)
        {
            subscription.StopTaking();
        }

        foreach (var consumer in consumers)
        {
            consumer.StopTaking();
        }
    }

    /// <summary>The registered groups of a stream, in the subscriptions' vocabulary (one worker reads in offset order; more are key-ordered).</summary>
    private List<SubscriptionDescription> DescribeRegisteredGroups(Type eventType) =>
        _wiring.Registry.StreamGroups.Where(g => g.EventType == eventType)
            .Select(g => new SubscriptionDescription(
                g.Group,
                g.HandlerType,
                g.Options.Workers > 1 ? DeliveryMode.KeyOrdered : DeliveryMode.Broadcast,
                g.Options.Workers,
                g.Options.Capacity ?? Options.DefaultCapacity,
                g.Options.EffectiveFullPolicy(Options),
                (g.Options.Redelivery ?? Options.DefaultRedelivery).MaxDeliveries,
                g.Options.HandlerTimeout ?? Options.DefaultHandlerTimeout,
                g.Options.AckMode ?? AckMode.AfterHandling,
                IsBatch: false))
            .OrderBy(g => g.Name, StringComparer.Ordinal)
            .ToList();

    public BusTopology DescribeTopology()
    {
        var topics = _topics.All
            .Select(t => new TopicDescription(t.Name, t.MessageType, t.IsCommand, false, t.Subscriptions.Select(s => s.Describe()).OrderBy(s => s.Name, StringComparer.Ordinal).ToList(),
                t.Log is not null, t.Log is null ? null : DescribeRegisteredGroups(t.MessageType)))
            .ToList();

        // Handlers of interfaces and base types: described under that type, with the options they resolve to.
        foreach (var group in _wiring.Registry.EventHandlers.Where(h => h.MessageType.IsInterface || h.MessageType.IsAbstract).GroupBy(h => h.MessageType))
        {
            var subscriptions = group.Select(h =>
            {
                var settings = _wiring.ResolveSettings(h.MessageType, h.HandlerType, DeliveryMode.Broadcast, h.IsBatch);
                return new SubscriptionDescription(MessageTypes.GetKey(h.HandlerType), h.HandlerType, settings.Mode, settings.Workers, settings.Capacity, settings.FullPolicy,
                    settings.Redelivery.MaxDeliveries, settings.HandlerTimeout, settings.AckMode, h.IsBatch);
            }).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
            topics.Add(new TopicDescription(MessageTypes.GetKey(group.Key), group.Key, false, true, subscriptions));
        }

        // A command's queue is created on its first enqueue (so that commands only ever sent inline start no workers); the
        // topology describes it from the options it will have, so the description does not depend on what was enqueued so far.
        foreach (var route in Commands.Routes.Values.Where(r => !_topics.Contains(r.CommandType)))
        {
            var settings = _wiring.ResolveSettings(route.CommandType, route.Context.HandlerType, DeliveryMode.Queue, isBatch: false);
            var subscription = new SubscriptionDescription(MessageTypes.GetKey(route.Context.HandlerType), route.Context.HandlerType, settings.Mode, settings.Workers,
                settings.Capacity, settings.FullPolicy, settings.Redelivery.MaxDeliveries, settings.HandlerTimeout, settings.AckMode, IsBatch: false);
            topics.Add(new TopicDescription(route.Topic, route.CommandType, true, false, [subscription]));
        }

        return new BusTopology(topics.OrderBy(t => t.Name, StringComparer.Ordinal).ToList());
    }

    public IReadOnlyList<SubscriptionSnapshot> GetSnapshot() =>
        _topics.Subscriptions().Select(s => s.GetSnapshot())
            .Concat(Streams.Consumers().Union(Volatile.Read(ref _groupsStopped)).Select(c => c.GetSnapshot()))
            .OrderBy(s => s.Topic, StringComparer.Ordinal).ThenBy(s => s.Subscription, StringComparer.Ordinal).ToList();
}
