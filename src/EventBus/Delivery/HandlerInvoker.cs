using Microsoft.Extensions.DependencyInjection;

namespace EventBus;

/// <summary>What an invoker needs to resolve and call one handler: the container, the handler's type and lifetime, and the middleware that applies.</summary>
internal sealed class InvokerContext(IServiceProvider root, Type handlerType, ServiceLifetime lifetime, MiddlewareRegistration[] middleware)
{
    public IServiceProvider Root { get; } = root;

    public IServiceScopeFactory ScopeFactory { get; } = root.GetRequiredService<IServiceScopeFactory>();

    public Type HandlerType { get; } = handlerType;

    public MiddlewareRegistration[] Middleware { get; } = middleware;

    /// <summary>
    /// A scope is created per delivery unless the handler and every middleware are singletons: a transient or scoped
    /// service resolved from the root would live (and leak its disposables) as long as the container.
    /// </summary>
    public bool NeedsScope { get; } = lifetime != ServiceLifetime.Singleton || Array.Exists(middleware, m => m.Lifetime != ServiceLifetime.Singleton);
}

/// <summary>Calls one handler for one delivery: resolves it (in a fresh scope when needed) and runs the middleware pipeline around it.</summary>
internal abstract class HandlerInvoker
{
    public abstract ValueTask InvokeAsync(object message, MessageContext context, CancellationToken cancellationToken);
}

/// <summary>Invokes an <see cref="IEventHandler{TEvent}"/>; <typeparamref name="TEvent"/> is the type the handler declares (possibly a base type).</summary>
internal sealed class EventHandlerInvoker<TEvent>(InvokerContext context) : HandlerInvoker
{
    // The direct path: a singleton handler with no middleware is called with no scope, no closure and no allocation.
    private readonly bool _direct = !context.NeedsScope && context.Middleware.Length == 0;

    // Resolved lazily: resolving while the bus is being built would fail for handlers that depend on IEventBus.
    private IEventHandler<TEvent>? _singleton;

    // The direct path's handler method, bound once to the singleton. Every event type's invoker shares this code (for reference
    // types), so a call through the interface here would be a megamorphic call site, resolved by the runtime's stub on every
    // event; the delegate is bound to the implementing method when it is created.
    private Func<TEvent, MessageContext, CancellationToken, ValueTask>? _handle;

    public override ValueTask InvokeAsync(object message, MessageContext messageContext, CancellationToken cancellationToken) =>
        _direct
            ? (_handle ??= Bind()).Invoke(MessageCast.As<TEvent>(message), messageContext, cancellationToken)
            : InvokeSlowAsync(MessageCast.As<TEvent>(message), messageContext, cancellationToken);

    private Func<TEvent, MessageContext, CancellationToken, ValueTask> Bind() => (_singleton ??= Resolve(context.Root)).HandleAsync;

    private IEventHandler<TEvent> Resolve(IServiceProvider provider) => (IEventHandler<TEvent>)provider.GetRequiredService(context.HandlerType);

    /// <summary>A handler resolved per delivery (scoped or transient), or one that runs inside middleware.</summary>
    private ValueTask InvokeSlowAsync(TEvent message, MessageContext messageContext, CancellationToken cancellationToken) =>
        HandlerActivation.Ignore(HandlerActivation.InvokeAsync(
            context,
            context.NeedsScope ? null : _singleton ??= Resolve(context.Root),
            message,
            messageContext,
            (message, messageContext, cancellationToken),
            static (handler, call) => HandlerActivation.Completed(((IEventHandler<TEvent>)handler).HandleAsync(call.message, call.messageContext, call.cancellationToken)),
            cancellationToken));
}

/// <summary>Runs middleware around a terminal step, outermost first.</summary>
internal static class MiddlewarePipeline
{
    public static MiddlewareRegistration[] None { get; } = [];

    public static ValueTask RunAsync<TMessage>(
        IServiceProvider services,
        MiddlewareRegistration[] middleware,
        TMessage message,
        MessageContext context,
        Func<ValueTask> terminal,
        CancellationToken cancellationToken)
    {
        // Built inside out, one closure per step, so that a middleware may call next more than once (e.g. a retry).
        var next = terminal;
        for (var i = middleware.Length - 1; i >= 0; i--)
        {
            var step = (IMessageMiddleware)services.GetRequiredService(middleware[i].MiddlewareType);
            var inner = next;
            next = () => step.InvokeAsync(message, context, inner, cancellationToken);
        }

        return next();
    }
}
