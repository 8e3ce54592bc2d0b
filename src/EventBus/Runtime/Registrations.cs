using Microsoft.Extensions.DependencyInjection;

namespace EventBus;

/// <summary>An event handler registration: the handler type, the message type it declares, and how to call it.</summary>
/// <remarks>The invoker factory is a closed generic built where the types are known statically, so dispatch needs no reflection.</remarks>
internal sealed record EventHandlerRegistration(
    Type HandlerType,
    Type MessageType,
    ServiceLifetime Lifetime,
    Func<InvokerContext, HandlerInvoker> CreateInvoker,
    bool IsBatch = false);

/// <summary>A command handler registration.</summary>
internal sealed record CommandHandlerRegistration(
    Type HandlerType,
    Type CommandType,
    ServiceLifetime Lifetime,
    Func<InvokerContext, CommandRoute> CreateRoute);

/// <summary>A consumer group registered with the builder: started with the bus.</summary>
internal sealed record StreamGroupRegistration(
    Type EventType,
    Type HandlerType,
    string Group,
    ServiceLifetime Lifetime,
    Func<InvokerContext, HandlerInvoker> CreateInvoker,
    ConsumerGroupOptions Options);

/// <summary>
/// A pull subscription registered with the builder: a subscription of <see cref="EventType"/>'s topic whose events its readers
/// take (<see cref="IEventBus.GetReader{TEvent}(string)"/>). <see cref="ReaderType"/> stands where a handler's type would.
/// </summary>
internal sealed record PullSubscriptionRegistration(Type EventType, string Name, Type ReaderType, SubscriptionOptions Options);

/// <summary>A middleware registration, in pipeline order.</summary>
internal sealed record MiddlewareRegistration(Type MiddlewareType, ServiceLifetime Lifetime);

/// <summary>Everything <see cref="EventBusBuilder"/> collected; read once when the bus is built.</summary>
internal sealed class EventBusRegistry
{
    public List<EventHandlerRegistration> EventHandlers { get; } = [];

    public List<CommandHandlerRegistration> CommandHandlers { get; } = [];

    /// <summary>Command types found by assembly scanning; each must have exactly one handler.</summary>
    public HashSet<Type> KnownCommandTypes { get; } = [];

    /// <summary>Topics declared explicitly, with their subscription defaults.</summary>
    public Dictionary<Type, SubscriptionOptions> Topics { get; } = [];

    /// <summary>Per handler type subscription options.</summary>
    public Dictionary<Type, SubscriptionOptions> HandlerOptions { get; } = [];

    public List<MiddlewareRegistration> Middleware { get; } = [];

    /// <summary>Event types declared as streams, with their retention.</summary>
    public Dictionary<Type, StreamOptions> Streams { get; } = [];

    /// <summary>Consumer groups registered with the builder.</summary>
    public List<StreamGroupRegistration> StreamGroups { get; } = [];

    /// <summary>Pull subscriptions registered with the builder.</summary>
    public List<PullSubscriptionRegistration> PullSubscriptions { get; } = [];

    /// <summary>Gets or sets the options of the idempotency helper, when it is used; validated with the bus options.</summary>
    public IdempotencyOptions? Idempotency { get; set; }

    /// <summary>Gets or sets a value indicating whether the bus counts pending messages (set by the EventBus.Testing harness).</summary>
    public bool TrackPending { get; set; }

    /// <summary>Gets callbacks run at the end of the bus's construction, before anything can be published (the test harness attaches there).</summary>
    public List<Action<EventBusRuntime>> Built { get; } = [];
}
