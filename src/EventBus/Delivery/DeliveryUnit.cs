namespace EventBus;

/// <summary>
/// What one delivery hands to a handler: one buffered message, one stream event, or a batch. The pipeline is generic over the unit
/// (a struct), so each kind gets its own compiled code and no call through the interface.
/// </summary>
internal interface IDeliveryUnit
{
    /// <summary>Gets how many messages the unit holds.</summary>
    int Count { get; }

    /// <summary>Calls the handler for one attempt, with envelopes for <paramref name="subscription"/>, the attempt's delivery count and settlement.</summary>
    ValueTask Invoke(HandlerInvoker invoker, string subscription, int attempt, Settlement settlement, int version, CancellationToken cancellationToken);

    /// <summary>Gets the message at <paramref name="index"/>.</summary>
    object MessageAt(int index);

    /// <summary>Gets the envelope at <paramref name="index"/> as <paramref name="subscription"/> saw it on attempt <paramref name="deliveryCount"/>, with no settlement (for reports and records).</summary>
    MessageContext ContextAt(int index, string subscription, int deliveryCount);
}

/// <summary>One message from a subscription's buffer.</summary>
internal readonly struct EnvelopeUnit(object message, in MessageContext context) : IDeliveryUnit
{
    public readonly object Message = message;
    public readonly MessageContext Context = context;

    public int Count => 1;

    public ValueTask Invoke(HandlerInvoker invoker, string subscription, int attempt, Settlement settlement, int version, CancellationToken cancellationToken) =>
        invoker.InvokeAsync(Message, Context.ForDelivery(subscription, attempt, settlement, version), cancellationToken);

    public object MessageAt(int index) => Message;

    public MessageContext ContextAt(int index, string subscription, int deliveryCount) => Context.ForSubscription(subscription).WithDeliveryCount(deliveryCount);
}

/// <summary>One event of a stream, read by a consumer group.</summary>
internal readonly struct EntryUnit(in StreamEntry entry, string topic) : IDeliveryUnit
{
    private readonly StreamEntry _entry = entry;
    private readonly string _topic = topic;

    public int Count => 1;

    public ValueTask Invoke(HandlerInvoker invoker, string subscription, int attempt, Settlement settlement, int version, CancellationToken cancellationToken) =>
        invoker.InvokeAsync(_entry.Message, _entry.ToContext(_topic, subscription, attempt, settlement, version), cancellationToken);

    public object MessageAt(int index) => _entry.Message;

    public MessageContext ContextAt(int index, string subscription, int deliveryCount) => _entry.ToContext(_topic, subscription, deliveryCount);
}

/// <summary>A batch for a batch handler: the buffered envelopes, handled (and settled) as a whole.</summary>
internal readonly struct BatchUnit(object[] messages, Envelope[] envelopes) : IDeliveryUnit
{
    public int Count => messages.Length;

    public ValueTask Invoke(HandlerInvoker invoker, string subscription, int attempt, Settlement settlement, int version, CancellationToken cancellationToken)
    {
        var contexts = new MessageContext[envelopes.Length];
        for (var i = 0; i < contexts.Length; i++)
        {
            contexts[i] = envelopes[i].Context.ForDelivery(subscription, attempt, settlement, version);
        }

        return ((BatchHandlerInvoker)invoker).InvokeBatchAsync(messages, contexts, cancellationToken);
    }

    public object MessageAt(int index) => messages[index];

    public MessageContext ContextAt(int index, string subscription, int deliveryCount) => envelopes[index].Context.ForSubscription(subscription).WithDeliveryCount(deliveryCount);
}
