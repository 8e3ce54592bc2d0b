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
    public override ValueTask InvokeBatchAsync(object[] messages, MessageContext[] contexts, CancellationToken cancellationToken)
    {
        var events = new TEvent[messages.Length];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = (TEvent)messages[i];
        }

        return HandlerActivation.Ignore(HandlerActivation.InvokeAsync<IReadOnlyList<TEvent>, (TEvent[] Events, MessageContext[] Contexts, CancellationToken Token), bool>(
            context,
            null,
            events,
            contexts[0],
            (events, contexts, cancellationToken),
            static (handler, call) => HandlerActivation.Completed(((IBatchEventHandler<TEvent>)handler).HandleAsync(call.Events, call.Contexts, call.Token)),
            cancellationToken));
    }
}
