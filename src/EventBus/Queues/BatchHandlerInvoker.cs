using Microsoft.Extensions.DependencyInjection;

namespace EventBus;

/// <summary>Calls a batch handler: resolves it (in a fresh scope when needed) and runs the middleware pipeline around the whole batch.</summary>
internal abstract class BatchHandlerInvoker(int maxBatchSize, TimeSpan maxWait) : HandlerInvoker
{
    public int MaxBatchSize { get; } = maxBatchSize;

    public TimeSpan MaxWait { get; } = maxWait;

    public override ValueTask InvokeAsync(object message, MessageContext context, CancellationToken cancellationToken) =>
        InvokeBatchAsync([message], [context], cancellationToken);

    public abstract ValueTask InvokeBatchAsync(object[] messages, MessageContext[] contexts, CancellationToken cancellationToken);
}

/// <summary>Invokes an <see cref="IBatchEventHandler{TEvent}"/>. Middleware sees the batch as one <see cref="IReadOnlyList{T}"/> message with the first event's context.</summary>
internal sealed class BatchHandlerInvoker<TEvent>(InvokerContext context, int maxBatchSize, TimeSpan maxWait) : BatchHandlerInvoker(maxBatchSize, maxWait)
{
    public override async ValueTask InvokeBatchAsync(object[] messages, MessageContext[] contexts, CancellationToken cancellationToken)
    {
        var events = new TEvent[messages.Length];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = (TEvent)messages[i];
        }

        AsyncServiceScope? scope = context.NeedsScope ? context.ScopeFactory.CreateAsyncScope() : null;
        try
        {
            var services = scope?.ServiceProvider ?? context.Root;
            var handler = (IBatchEventHandler<TEvent>)services.GetRequiredService(context.HandlerType);
            if (context.Middleware.Length == 0)
            {
                await handler.HandleAsync(events, contexts, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await MiddlewarePipeline.RunAsync<IReadOnlyList<TEvent>>(services, context.Middleware, events, contexts[0], () => handler.HandleAsync(events, contexts, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (scope is { } s)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
