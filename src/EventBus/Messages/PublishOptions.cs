namespace EventBus;

/// <summary>
/// Envelope values a publisher can set on a message: correlation, causation, headers and a partition key.
/// </summary>
/// <remarks>
/// Instances are immutable once built and can be cached and reused across publishes.
/// Use <see cref="CausedBy(in MessageContext)"/> inside a handler so that the messages it publishes carry
/// the correlation of the flow and point back at the message that caused them.
/// </remarks>
public sealed class PublishOptions
{
    /// <summary>
    /// Gets the message id to use instead of a new one: for messages fed in from outside with an id of their own (an outbox or a
    /// change-data-capture feed), so that a replay carries the same id and <see cref="EventBusBuilder.UseIdempotency(Action{IdempotencyOptions}?)"/> can skip it.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the bus assigns a new id.</value>
    public MessageId? MessageId { get; init; }

    /// <summary>Gets the correlation identifier of the business flow.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? CorrelationId { get; init; }

    /// <summary>Gets the identifier of the message that caused this one.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? CausationId { get; init; }

    /// <summary>Gets the headers to carry with the message. The bus keeps the reference: do not change the dictionary after publishing.</summary>
    /// <value>The default value is <see langword="null"/> (no headers).</value>
    public IReadOnlyDictionary<string, string>? Headers { get; init; }

    /// <summary>Gets the partition key: messages with the same key belong together (used by key-ordered delivery).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? PartitionKey { get; init; }

    /// <summary>
    /// Creates options for a message caused by the message being handled: the correlation identifier is carried
    /// over (or started from the cause's message id) and the causation identifier is the cause's message id.
    /// </summary>
    /// <param name="cause">The context of the message being handled.</param>
    /// <returns>New options.</returns>
    public static PublishOptions CausedBy(in MessageContext cause)
    {
        var causeId = cause.MessageId.ToString();
        return new PublishOptions { CorrelationId = cause.CorrelationId ?? causeId, CausationId = causeId };
    }
}
