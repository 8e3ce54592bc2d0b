using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace EventBus;

/// <summary>
/// Registers handlers, middleware, topics and options for the bus. Obtained from
/// <see cref="EventBusServiceCollectionExtensions.AddEventBus(IServiceCollection, Action{EventBusBuilder})"/>.
/// </summary>
/// <remarks>
/// Handlers are registered in the container under their own type with the lifetime given (scoped by default).
/// Registering the same handler for the same message type twice (e.g. by a scan and explicitly) registers it once.
/// </remarks>
public sealed class EventBusBuilder
{
    private readonly HashSet<(Type Handler, Type Message)> _seen = [];

    internal EventBusBuilder(IServiceCollection services, EventBusRegistry registry)
    {
        Services = services;
        Registry = registry;
    }

    /// <summary>Gets the service collection the bus is registered in.</summary>
    public IServiceCollection Services { get; }

    internal EventBusRegistry Registry { get; }

    /// <summary>Configures the bus-wide options.</summary>
    /// <param name="configure">The configuration callback; it runs when the bus is built, and the result is validated then.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder Configure(Action<EventBusOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);

        // Through the options system, so that these callbacks and the application's own Configure<EventBusOptions> calls
        // (a configuration section included) run in registration order, as they do for any options type.
        Services.Configure(configure);
        return this;
    }

    /// <summary>Registers <typeparamref name="THandler"/> as a handler of <typeparamref name="TEvent"/> (and of events derived from it).</summary>
    /// <typeparam name="TEvent">The event type the handler declares (may be a base class or interface).</typeparam>
    /// <typeparam name="THandler">The handler type.</typeparam>
    /// <param name="lifetime">The handler's DI lifetime. A singleton handler with no scoped middleware is called without creating a DI scope.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder AddEventHandler<TEvent, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(ServiceLifetime lifetime = ServiceLifetime.Scoped)
        where THandler : class, IEventHandler<TEvent>
    {
        ThrowIfCommand(typeof(TEvent), typeof(THandler));
        if (_seen.Add((typeof(THandler), typeof(TEvent))))
        {
            Services.TryAdd(new ServiceDescriptor(typeof(THandler), typeof(THandler), lifetime));
            Registry.EventHandlers.Add(new EventHandlerRegistration(
                typeof(THandler), typeof(TEvent), lifetime, static context => new EventHandlerInvoker<TEvent>(context)));
        }

        return this;
    }

    /// <summary>
    /// Registers <typeparamref name="THandler"/> as a batch handler of <typeparamref name="TEvent"/>: its workers take up to
    /// <paramref name="maxBatchSize"/> buffered events at a time, waiting up to <paramref name="maxWait"/> for more once the first has arrived.
    /// </summary>
    /// <typeparam name="TEvent">The event type the handler declares (may be a base class or interface).</typeparam>
    /// <typeparam name="THandler">The handler type.</typeparam>
    /// <param name="maxBatchSize">The largest batch, from 1 to 100,000.</param>
    /// <param name="maxWait">How long a worker waits for a batch to fill once it has its first event; zero takes what is buffered.</param>
    /// <param name="lifetime">The handler's DI lifetime.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder AddBatchEventHandler<TEvent, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(int maxBatchSize, TimeSpan maxWait, ServiceLifetime lifetime = ServiceLifetime.Scoped)
        where THandler : class, IBatchEventHandler<TEvent>
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBatchSize, 100_000);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxWait, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxWait, TimeSpan.FromHours(1));
        ThrowIfCommand(typeof(TEvent), typeof(THandler));
        if (_seen.Add((typeof(THandler), typeof(TEvent))))
        {
            Services.TryAdd(new ServiceDescriptor(typeof(THandler), typeof(THandler), lifetime));
            Registry.EventHandlers.Add(new EventHandlerRegistration(
                typeof(THandler), typeof(TEvent), lifetime, context => new BatchHandlerInvoker<TEvent>(context, maxBatchSize, maxWait), IsBatch: true));
        }

        return this;
    }

    /// <summary>Registers <typeparamref name="THandler"/> as the handler of the command <typeparamref name="TCommand"/>, which returns no value.</summary>
    /// <typeparam name="TCommand">The command type.</typeparam>
    /// <typeparam name="THandler">The handler type.</typeparam>
    /// <param name="lifetime">The handler's DI lifetime.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder AddCommandHandler<TCommand, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(ServiceLifetime lifetime = ServiceLifetime.Scoped)
        where TCommand : ICommand
        where THandler : class, ICommandHandler<TCommand>
    {
        if (_seen.Add((typeof(THandler), typeof(TCommand))))
        {
            Services.TryAdd(new ServiceDescriptor(typeof(THandler), typeof(THandler), lifetime));
            Registry.CommandHandlers.Add(new CommandHandlerRegistration(
                typeof(THandler), typeof(TCommand), lifetime, static context => new CommandRoute<TCommand, VoidResult>(context, VoidCommandAdapter<TCommand>.Adapter)));
        }

        return this;
    }

    /// <summary>Registers <typeparamref name="THandler"/> as the handler of the command <typeparamref name="TCommand"/>, which returns a <typeparamref name="TResult"/>.</summary>
    /// <typeparam name="TCommand">The command type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <typeparam name="THandler">The handler type.</typeparam>
    /// <param name="lifetime">The handler's DI lifetime.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder AddCommandHandler<TCommand, TResult, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(ServiceLifetime lifetime = ServiceLifetime.Scoped)
        where TCommand : ICommand<TResult>
        where THandler : class, ICommandHandler<TCommand, TResult>
    {
        if (_seen.Add((typeof(THandler), typeof(TCommand))))
        {
            Services.TryAdd(new ServiceDescriptor(typeof(THandler), typeof(THandler), lifetime));
            Registry.CommandHandlers.Add(new CommandHandlerRegistration(
                typeof(THandler), typeof(TCommand), lifetime, static context => new CommandRoute<TCommand, TResult>(context, ResultCommandAdapter<TCommand, TResult>.Adapter)));
        }

        return this;
    }

    /// <summary>
    /// Registers every concrete class of <paramref name="assembly"/> that implements <see cref="IEventHandler{TEvent}"/>,
    /// <see cref="ICommandHandler{TCommand}"/> or <see cref="ICommandHandler{TCommand, TResult}"/>, and records every concrete
    /// command type of the assembly so that a command without a handler is a start-up error.
    /// </summary>
    /// <param name="assembly">The assembly to scan.</param>
    /// <param name="lifetime">The DI lifetime of the handlers found.</param>
    /// <returns>This builder.</returns>
    [RequiresUnreferencedCode("Assembly scanning finds handler types by reflection; register handlers explicitly for trimmed or AOT applications.")]
    [RequiresDynamicCode("Assembly scanning closes generic registration methods at run time; register handlers explicitly for AOT applications.")]
    public EventBusBuilder AddHandlersFromAssembly(Assembly assembly, ServiceLifetime lifetime = ServiceLifetime.Scoped)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        foreach (var type in assembly.GetTypes())
        {
            if (!type.IsClass || type.IsAbstract || type.ContainsGenericParameters)
            {
                continue;
            }

            foreach (var contract in type.GetInterfaces())
            {
                if (!contract.IsGenericType)
                {
                    if (contract == typeof(ICommand))
                    {
                        Registry.KnownCommandTypes.Add(type);
                    }

                    continue;
                }

                var definition = contract.GetGenericTypeDefinition();
                var arguments = contract.GetGenericArguments();
                string? method = null;
                Type[]? typeArguments = null;
                if (definition == typeof(ICommand<>))
                {
                    Registry.KnownCommandTypes.Add(type);
                }
                else if (definition == typeof(IEventHandler<>))
                {
                    (method, typeArguments) = (nameof(AddEventHandler), [arguments[0], type]);
                }
                else if (definition == typeof(ICommandHandler<>))
                {
                    (method, typeArguments) = (nameof(AddCommandHandler), [arguments[0], type]);
                }
                else if (definition == typeof(ICommandHandler<,>))
                {
                    (method, typeArguments) = (nameof(AddCommandHandler), [arguments[0], arguments[1], type]);
                }

                if (method is not null)
                {
                    var register = typeof(EventBusBuilder).GetMethods()
                        .Single(m => m.Name == method && m.GetGenericArguments().Length == typeArguments!.Length)
                        .MakeGenericMethod(typeArguments!);
                    try
                    {
                        register.Invoke(this, [lifetime]);
                    }
                    catch (TargetInvocationException e) when (e.InnerException is not null)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(e.InnerException);
                    }
                }
            }
        }

        return this;
    }

    /// <summary>Registers the handlers of the assembly that contains <typeparamref name="T"/>; see <see cref="AddHandlersFromAssembly(Assembly, ServiceLifetime)"/>.</summary>
    /// <typeparam name="T">Any type of the assembly to scan.</typeparam>
    /// <param name="lifetime">The DI lifetime of the handlers found.</param>
    /// <returns>This builder.</returns>
    [RequiresUnreferencedCode("Assembly scanning finds handler types by reflection; register handlers explicitly for trimmed or AOT applications.")]
    [RequiresDynamicCode("Assembly scanning closes generic registration methods at run time; register handlers explicitly for AOT applications.")]
    public EventBusBuilder AddHandlersFromAssemblyContaining<T>(ServiceLifetime lifetime = ServiceLifetime.Scoped) =>
        AddHandlersFromAssembly(typeof(T).Assembly, lifetime);

    /// <summary>
    /// Declares <typeparamref name="TMessage"/> as a topic and sets defaults for its subscriptions (mode, workers, capacity, full policy).
    /// A declared event topic accepts publishes even when no handler subscribes to it.
    /// </summary>
    /// <typeparam name="TMessage">The message type (an event, or a command for its enqueue queue).</typeparam>
    /// <param name="configure">Sets the defaults of the topic's subscriptions, or <see langword="null"/>.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder AddTopic<TMessage>(Action<SubscriptionOptions>? configure = null)
    {
        if (!Registry.Topics.TryGetValue(typeof(TMessage), out var options))
        {
            Registry.Topics[typeof(TMessage)] = options = new SubscriptionOptions();
        }

        configure?.Invoke(options);
        return this;
    }

    /// <summary>
    /// Makes <typeparamref name="TEvent"/> a stream: every event published is appended once to an ordered log with dense offsets,
    /// which consumer groups read each at their own committed offset and which can be replayed (<see cref="IEventStreams"/>).
    /// Subscriptions of the topic (handlers added with <see cref="AddEventHandler{TEvent, THandler}(ServiceLifetime)"/>) go on
    /// working as before, and their envelopes carry the offset too.
    /// </summary>
    /// <typeparam name="TEvent">The concrete event type.</typeparam>
    /// <param name="configure">Sets the retention, or <see langword="null"/> to keep an event until every running group committed past it.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder AddStream<TEvent>(Action<StreamOptions>? configure = null)
    {
        ThrowIfNotStreamable(typeof(TEvent));
        if (!Registry.Streams.TryGetValue(typeof(TEvent), out var options))
        {
            Registry.Streams[typeof(TEvent)] = options = new StreamOptions();
        }

        configure?.Invoke(options);
        return this;
    }

    /// <summary>
    /// Adds the consumer group <paramref name="group"/> on the stream of <typeparamref name="TEvent"/> (declared as a stream if it
    /// was not), handled by <typeparamref name="THandler"/>. The group starts with the bus, from its committed offset or from
    /// <see cref="ConsumerGroupOptions.StartPosition"/> the first time, and reads every event in offset order. The handler is then
    /// not also a subscription of <typeparamref name="TEvent"/>, even when an assembly scan finds it.
    /// </summary>
    /// <typeparam name="TEvent">The concrete event type.</typeparam>
    /// <typeparam name="THandler">The handler type, resolved per delivery like any handler (with the middleware pipeline).</typeparam>
    /// <param name="group">The group's name, unique per stream: it names the committed offset.</param>
    /// <param name="configure">Sets the group's options, or <see langword="null"/>.</param>
    /// <param name="lifetime">The handler's DI lifetime.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentException"><paramref name="group"/> is empty or already used on this stream.</exception>
    public EventBusBuilder AddStreamGroup<TEvent, [DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] THandler>(string group, Action<ConsumerGroupOptions>? configure = null, ServiceLifetime lifetime = ServiceLifetime.Scoped)
        where THandler : class, IEventHandler<TEvent>
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        ThrowIfNotStreamable(typeof(TEvent));
        if (Registry.StreamGroups.Exists(g => g.EventType == typeof(TEvent) && g.Group == group))
        {
            throw new ArgumentException($"Consumer group '{group}' is already registered on the stream of '{typeof(TEvent).FullName}'; each group name is used once per stream.", nameof(group));
        }

        var options = new ConsumerGroupOptions();
        configure?.Invoke(options);
        AddStream<TEvent>();
        Services.TryAdd(new ServiceDescriptor(typeof(THandler), typeof(THandler), lifetime));
        Registry.StreamGroups.Add(new StreamGroupRegistration(typeof(TEvent), typeof(THandler), group, lifetime, static context => new EventHandlerInvoker<TEvent>(context), options));
        return this;
    }

    /// <summary>
    /// Adds the pull subscription <paramref name="name"/> on the topic of <typeparamref name="TEvent"/>: a subscription like a
    /// handler's, with its own bounded buffer, whose events are not pushed to a handler but taken by readers, through the
    /// <see cref="ChannelReader{T}"/> that <see cref="IEventBus.GetReader{TEvent}(string)"/> returns.
    /// </summary>
    /// <remarks>
    /// <para>It receives every event published to the topic from when the bus is built, in the topic's order, as every
    /// subscription does. When its readers fall behind, its buffer fills and its <see cref="SubscriptionOptions.FullPolicy"/>
    /// applies to publishers. An event is acknowledged when it is read (at most once: a reader that fails after reading it loses
    /// it), and each event goes to one reader, however many read.</para>
    /// <para>Only <see cref="SubscriptionOptions.Capacity"/> and <see cref="SubscriptionOptions.FullPolicy"/> apply (unset, they
    /// come from the topic's options, then from <see cref="EventBusOptions"/>); the bus runs no handler for it, so setting any other
    /// option is a start-up error.</para>
    /// </remarks>
    /// <typeparam name="TEvent">The concrete event type: its topic.</typeparam>
    /// <param name="name">The subscription's name, unique among the pull subscriptions of the topic: it names the subscription in
    /// snapshots and reports and in the envelopes its readers get (<see cref="MessageContext.Subscription"/>).</param>
    /// <param name="configure">Sets the subscription's capacity and full policy, or <see langword="null"/>.</param>
    /// <returns>This builder.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="name"/> is <see langword="null"/>.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is empty, white space or already used on this topic, or
    /// <typeparamref name="TEvent"/> is a command, an interface or an abstract class.</exception>
    public EventBusBuilder AddPullSubscription<TEvent>(string name, Action<SubscriptionOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var type = typeof(TEvent);
        if (MessageTypes.IsCommand(type) || type.IsAbstract || type.IsInterface)
        {
            throw new ArgumentException(
                $"'{type.FullName}' cannot have a pull subscription: a pull subscription is a subscription of the topic of one concrete event type (not a command, an interface or an abstract class).",
                nameof(TEvent));
        }

        if (Registry.PullSubscriptions.Exists(p => p.EventType == type && p.Name == name))
        {
            throw new ArgumentException($"Pull subscription '{name}' is already registered on the topic '{type.FullName}'; each name is used once per topic.", nameof(name));
        }

        var options = new SubscriptionOptions();
        configure?.Invoke(options);
        Registry.PullSubscriptions.Add(new PullSubscriptionRegistration(type, name, typeof(ChannelReader<StreamEvent<TEvent>>), options));
        return this;
    }

    /// <summary>Sets the options of every subscription of the handler <typeparamref name="THandler"/>; they win over topic and bus defaults.</summary>
    /// <typeparam name="THandler">The handler type.</typeparam>
    /// <param name="configure">Sets the options.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder ConfigureSubscription<THandler>(Action<SubscriptionOptions> configure)
        where THandler : class
    {
        ArgumentNullException.ThrowIfNull(configure);
        if (!Registry.HandlerOptions.TryGetValue(typeof(THandler), out var options))
        {
            Registry.HandlerOptions[typeof(THandler)] = options = new SubscriptionOptions();
        }

        configure(options);
        return this;
    }

    /// <summary>
    /// Adds a middleware to the handler pipeline of every subscription and every sent command. Middleware runs in registration
    /// order (the first added is the outermost) and is resolved from the delivery's DI scope.
    /// </summary>
    /// <typeparam name="TMiddleware">An <see cref="IMessageMiddleware"/> (derive from <see cref="MessageMiddleware{TMessage}"/> to target one message type).</typeparam>
    /// <param name="lifetime">The middleware's DI lifetime.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder UseMiddleware<[DynamicallyAccessedMembers(DynamicallyAccessedMemberTypes.PublicConstructors)] TMiddleware>(ServiceLifetime lifetime = ServiceLifetime.Transient)
        where TMiddleware : class, IMessageMiddleware
    {
        if (Registry.Middleware.Exists(m => m.MiddlewareType == typeof(TMiddleware)))
        {
            throw new ArgumentException($"The middleware '{typeof(TMiddleware).FullName}' is already in the pipeline; add each middleware once.", nameof(TMiddleware));
        }

        Services.TryAdd(new ServiceDescriptor(typeof(TMiddleware), typeof(TMiddleware), lifetime));
        Registry.Middleware.Add(new MiddlewareRegistration(typeof(TMiddleware), lifetime));
        return this;
    }

    /// <summary>
    /// Adds the idempotency helper as a middleware: each subscription skips a message id it already handled successfully within
    /// <see cref="IdempotencyOptions.Window"/> (a redelivery, a re-drive, or the same message published again), and a copy that
    /// arrives while another copy is being handled waits for that copy's outcome. Add it first so it is the outermost middleware.
    /// </summary>
    /// <remarks>
    /// The ids are kept in an in-memory <see cref="IIdempotencyStore"/> unless the container has another one: register your own
    /// singleton before or after this call to keep them durably. The options are validated with <see cref="EventBusOptions"/>: at
    /// host start, or when the bus is first resolved.
    /// </remarks>
    /// <param name="configure">Sets the window and the bound, or <see langword="null"/> for the defaults.</param>
    /// <returns>This builder.</returns>
    public EventBusBuilder UseIdempotency(Action<IdempotencyOptions>? configure = null)
    {
        var options = new IdempotencyOptions();
        configure?.Invoke(options);
        Services.TryAddSingleton(options);
        Services.TryAddSingleton<IIdempotencyStore, InMemoryIdempotencyStore>();
        Registry.Idempotency = options;
        return UseMiddleware<IdempotencyMiddleware>(ServiceLifetime.Singleton);
    }

    private static void ThrowIfNotStreamable(Type eventType)
    {
        if (MessageTypes.IsCommand(eventType) || eventType.IsAbstract || eventType.IsInterface)
        {
            throw new ArgumentException(
                $"'{eventType.FullName}' cannot be a stream: a stream is the log of one concrete event type (not a command, an interface or an abstract class).",
                nameof(eventType));
        }
    }

    private static void ThrowIfCommand(Type messageType, Type handlerType)
    {
        if (MessageTypes.IsCommand(messageType))
        {
            throw new ArgumentException(
                $"'{handlerType.FullName}' handles '{messageType.FullName}' as an event, but it is a command (it implements ICommand or ICommand<TResult>). Implement ICommandHandler<> and register it with AddCommandHandler.",
                nameof(messageType));
        }
    }
}
