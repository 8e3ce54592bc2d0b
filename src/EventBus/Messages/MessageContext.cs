using System.Collections.Frozen;
using System.Diagnostics;

namespace EventBus;

/// <summary>
/// The envelope of one delivery: who the message is, where it came from and how often it was delivered.
/// </summary>
/// <remarks>
/// A <see cref="MessageContext"/> is a small immutable struct handed to every handler and middleware
/// next to the message itself. The message object is never copied by the bus: every subscriber receives
/// the same instance, which is why messages must be immutable (use <c>sealed record</c> types).
/// </remarks>
[DebuggerDisplay("{MessageType,nq} {MessageId}")]
public readonly struct MessageContext
{
    private static readonly IReadOnlyDictionary<string, string> s_noHeaders = FrozenDictionary<string, string>.Empty;

    private readonly IReadOnlyDictionary<string, string>? _headers;
    private readonly Settlement? _settlement;
    private readonly int _settlementVersion;

    internal MessageContext(
        MessageId messageId,
        string messageType,
        DateTimeOffset timestamp,
        string? correlationId,
        string? causationId,
        IReadOnlyDictionary<string, string>? headers,
        string? partitionKey,
        string? subscription = null,
        int deliveryCount = 1,
        Settlement? settlement = null,
        int settlementVersion = 0,
        ActivityContext traceContext = default)
    {
        TraceContext = traceContext;
        _settlement = settlement;
        _settlementVersion = settlementVersion;
        MessageId = messageId;
        MessageType = messageType;
        Timestamp = timestamp;
        CorrelationId = correlationId;
        CausationId = causationId;
        _headers = headers;
        PartitionKey = partitionKey;
        Subscription = subscription;
        DeliveryCount = deliveryCount;
    }

    /// <summary>Gets the unique, sortable identifier of the message, assigned when it was published or sent.</summary>
    public MessageId MessageId { get; }

    /// <summary>Gets the message-type key: the full name of the message's CLR type (its topic).</summary>
    public string MessageType { get; }

    /// <summary>Gets the time the message was published, read from the bus's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset Timestamp { get; }

    /// <summary>Gets the identifier that ties together every message of one business flow, or <see langword="null"/>.</summary>
    public string? CorrelationId { get; }

    /// <summary>Gets the identifier of the message that caused this one, or <see langword="null"/>.</summary>
    public string? CausationId { get; }

    /// <summary>Gets the headers given at publish time; empty (never <see langword="null"/>) when there were none.</summary>
    public IReadOnlyDictionary<string, string> Headers => _headers ?? s_noHeaders;

    /// <summary>Gets the partition key given at publish time, or <see langword="null"/>.</summary>
    public string? PartitionKey { get; }

    /// <summary>Gets the name of the subscription this delivery belongs to, or <see langword="null"/> for an inline command send.</summary>
    public string? Subscription { get; }

    /// <summary>Gets how many times this message has been delivered to this subscription, counting this delivery (1 for the first).</summary>
    public int DeliveryCount { get; }

    /// <summary>
    /// Gets the trace context of the publish (the <c>publish</c> span when tracing is on, otherwise the publisher's current
    /// activity, if any): the <c>process</c> span of each delivery is its child, so a flow and its cascades form one trace.
    /// </summary>
    public ActivityContext TraceContext { get; }

    /// <summary>Gets a value indicating whether the message was delivered to this subscription before.</summary>
    public bool Redelivered => DeliveryCount > 1;

    /// <summary>
    /// Negatively acknowledges this delivery without throwing: when the handler returns, the message is redelivered according to
    /// the subscription's <see cref="RedeliveryOptions"/>, or dead-lettered once its attempts are used up.
    /// </summary>
    /// <param name="reason">Why; kept in the dead-letter record.</param>
    /// <exception cref="InvalidOperationException">The context does not belong to a subscription delivery in progress (an inline
    /// <c>SendAsync</c>, or a context kept after its handler returned).</exception>
    public void Nack(string reason) => Settle(SettlementKind.Nack, reason);

    /// <summary>
    /// Dead-letters this message when the handler returns, without further attempts: for failures that a retry cannot fix (a
    /// validation error).
    /// </summary>
    /// <param name="reason">Why; kept in the dead-letter record.</param>
    /// <exception cref="InvalidOperationException">The context does not belong to a subscription delivery in progress.</exception>
    public void DeadLetter(string reason) => Settle(SettlementKind.DeadLetter, reason);

    internal MessageContext ForSubscription(string subscription) =>
        new(MessageId, MessageType, Timestamp, CorrelationId, CausationId, _headers, PartitionKey, subscription, DeliveryCount, traceContext: TraceContext);

    internal MessageContext ForDelivery(string subscription, int deliveryCount, Settlement settlement, int version) =>
        new(MessageId, MessageType, Timestamp, CorrelationId, CausationId, _headers, PartitionKey, subscription, deliveryCount, settlement, version, TraceContext);

    internal MessageContext WithDeliveryCount(int deliveryCount) =>
        new(MessageId, MessageType, Timestamp, CorrelationId, CausationId, _headers, PartitionKey, Subscription, deliveryCount, traceContext: TraceContext);

    private void Settle(SettlementKind kind, string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        if (_settlement is null)
        {
            throw new InvalidOperationException("Nack and DeadLetter apply to deliveries of a subscription; an inline SendAsync has no redelivery: return a rejection or throw instead.");
        }

        _settlement.Settle(_settlementVersion, kind, reason);
    }
}
