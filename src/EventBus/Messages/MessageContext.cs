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

    internal MessageContext(
        MessageId messageId,
        string messageType,
        DateTimeOffset timestamp,
        string? correlationId,
        string? causationId,
        IReadOnlyDictionary<string, string>? headers,
        string? partitionKey,
        string? subscription = null,
        int deliveryCount = 1)
    {
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

    /// <summary>Gets a value indicating whether the message was delivered to this subscription before.</summary>
    public bool Redelivered => DeliveryCount > 1;

    internal MessageContext ForSubscription(string subscription) =>
        new(MessageId, MessageType, Timestamp, CorrelationId, CausationId, _headers, PartitionKey, subscription, DeliveryCount);
}
