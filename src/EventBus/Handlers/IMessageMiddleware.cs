namespace EventBus;

/// <summary>
/// Middleware that runs around every handler invocation of every message type (events, queued and sent commands).
/// </summary>
/// <remarks>
/// Middleware is registered with <see cref="EventBusBuilder.UseMiddleware{TMiddleware}(Microsoft.Extensions.DependencyInjection.ServiceLifetime)"/>,
/// runs in registration order (the first registered is the outermost) and is resolved from the delivery's DI scope.
/// To reject a command from middleware (validation), throw <see cref="CommandRejectedException"/>: the sender receives a rejection.
/// </remarks>
public interface IMessageMiddleware
{
    /// <summary>Runs around one handler invocation.</summary>
    /// <typeparam name="TMessage">The message type of the subscription (the topic's type).</typeparam>
    /// <param name="message">The message.</param>
    /// <param name="context">The delivery's envelope.</param>
    /// <param name="next">Invokes the rest of the pipeline; not calling it skips the handler.</param>
    /// <param name="cancellationToken">The delivery's cancellation token.</param>
    /// <returns>A task that completes when the middleware is done.</returns>
    ValueTask InvokeAsync<TMessage>(TMessage message, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken);
}

/// <summary>
/// Base class for middleware that runs only around handler invocations for messages of type <typeparamref name="TMessage"/>
/// (or of types derived from it); for every other message it calls the next step unchanged.
/// </summary>
/// <typeparam name="TMessage">The message type, or a base class or interface of it.</typeparam>
/// <remarks>See <see cref="IMessageMiddleware"/> for ordering and scoping.</remarks>
public abstract class MessageMiddleware<TMessage> : IMessageMiddleware
{
    /// <summary>Runs around one handler invocation for a <typeparamref name="TMessage"/>.</summary>
    /// <param name="message">The message.</param>
    /// <param name="context">The delivery's envelope.</param>
    /// <param name="next">Invokes the rest of the pipeline; not calling it skips the handler.</param>
    /// <param name="cancellationToken">The delivery's cancellation token.</param>
    /// <returns>A task that completes when the middleware is done.</returns>
    protected abstract ValueTask InvokeAsync(TMessage message, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken);

    /// <inheritdoc />
    ValueTask IMessageMiddleware.InvokeAsync<T>(T message, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(next);
        return message is TMessage typed ? InvokeAsync(typed, context, next, cancellationToken) : next();
    }
}
