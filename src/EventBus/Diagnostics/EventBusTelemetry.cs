using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EventBus;

/// <summary>
/// The names of the bus's <see cref="ActivitySource"/>, <see cref="Meter"/>, instruments and attributes. They follow the
/// OpenTelemetry semantic conventions for messaging where one exists; the rest are prefixed <c>eventbus.</c>.
/// </summary>
/// <remarks>
/// To export them with OpenTelemetry: <c>.WithTracing(t => t.AddSource(EventBusTelemetry.SourceName))</c> and
/// <c>.WithMetrics(m => m.AddMeter(EventBusTelemetry.MeterName))</c>. The bus itself has no OpenTelemetry dependency.
/// </remarks>
public static class EventBusTelemetry
{
    /// <summary>The name of the <see cref="ActivitySource"/>: spans <c>publish {topic}</c>, <c>send {command}</c> and <c>process {topic}</c>.</summary>
    public const string SourceName = "EventBus";

    /// <summary>The name of the <see cref="Meter"/>.</summary>
    public const string MeterName = "EventBus";

    /// <summary>Counter of published messages (events, enqueued and sent commands), per topic. Unit <c>{message}</c>.</summary>
    public const string PublishedMessages = "messaging.client.sent.messages";

    /// <summary>Counter of deliveries handed to handlers (redeliveries included), per subscription. Unit <c>{message}</c>.</summary>
    public const string DeliveredMessages = "messaging.client.consumed.messages";

    /// <summary>Counter of messages handled successfully, per subscription.</summary>
    public const string SucceededMessages = "eventbus.messages.succeeded";

    /// <summary>Counter of messages that ended in failure (dead-lettered, failed at-most-once, rejected when enqueued), per subscription.</summary>
    public const string FailedMessages = "eventbus.messages.failed";

    /// <summary>Counter of redeliveries after a failed attempt, per subscription.</summary>
    public const string RetriedMessages = "eventbus.messages.retried";

    /// <summary>Counter of dead-lettered messages, per subscription.</summary>
    public const string DeadLetteredMessages = "eventbus.messages.dead_lettered";

    /// <summary>Counter of messages dropped by a drop full policy, per subscription.</summary>
    public const string DroppedMessages = "eventbus.messages.dropped";

    /// <summary>Histogram of handler durations, per subscription. Unit <c>s</c>.</summary>
    public const string ProcessDuration = "messaging.process.duration";

    /// <summary>Histogram of the time from publish to the start of a delivery, per subscription. Unit <c>s</c>.</summary>
    public const string QueueDuration = "eventbus.message.queue.duration";

    /// <summary>Observable gauge of buffered messages, per subscription. Unit <c>{message}</c>.</summary>
    public const string BufferDepth = "eventbus.subscription.depth";

    /// <summary>Observable gauge of messages being handled, per subscription. Unit <c>{message}</c>.</summary>
    public const string InFlight = "eventbus.subscription.in_flight";

    /// <summary>Observable gauge of dead letters kept, per subscription. Unit <c>{message}</c>.</summary>
    public const string DeadLetters = "eventbus.subscription.dead_letters";

    /// <summary>Counter of stream events a consumer group skipped because retention trimmed them (or a reset jumped over them). Unit <c>{message}</c>.</summary>
    public const string SkippedMessages = "eventbus.stream.skipped";

    /// <summary>Observable gauge of a consumer group's lag: the stream's head minus the group's committed offset. Unit <c>{message}</c>.</summary>
    public const string ConsumerLag = "eventbus.stream.lag";

    /// <summary>Observable gauge of the events a stream retains. Unit <c>{message}</c>.</summary>
    public const string StreamRetained = "eventbus.stream.retained";

    /// <summary>Span attribute: the event's offset in its stream.</summary>
    public const string OffsetAttribute = "messaging.eventbus.offset";

    /// <summary>Attribute <c>messaging.system</c>: always <c>eventbus</c>.</summary>
    public const string SystemAttribute = "messaging.system";

    /// <summary>Attribute <c>messaging.destination.name</c>: the topic (message-type key).</summary>
    public const string DestinationAttribute = "messaging.destination.name";

    /// <summary>Attribute <c>messaging.consumer.group.name</c>: the subscription.</summary>
    public const string ConsumerGroupAttribute = "messaging.consumer.group.name";

    /// <summary>Attribute <c>messaging.operation.type</c>: <c>send</c> or <c>process</c>.</summary>
    public const string OperationTypeAttribute = "messaging.operation.type";

    /// <summary>Attribute <c>messaging.operation.name</c>: <c>publish</c>, <c>send</c> or <c>process</c>.</summary>
    public const string OperationNameAttribute = "messaging.operation.name";

    /// <summary>Attribute <c>messaging.message.id</c>.</summary>
    public const string MessageIdAttribute = "messaging.message.id";

    /// <summary>Attribute <c>messaging.message.conversation_id</c>: the correlation id, when there is one.</summary>
    public const string ConversationIdAttribute = "messaging.message.conversation_id";

    /// <summary>Attribute <c>messaging.batch.message_count</c>: the size of a batch publish.</summary>
    public const string BatchCountAttribute = "messaging.batch.message_count";

    /// <summary>Attribute <c>eventbus.delivery_count</c>: the attempt of a delivery (1 for the first).</summary>
    public const string DeliveryCountAttribute = "eventbus.delivery_count";

    /// <summary>Attribute <c>error.type</c>: the exception type of a failed attempt.</summary>
    public const string ErrorTypeAttribute = "error.type";

    /// <summary>Attribute <c>eventbus.command.rejection</c>: the reason on a <c>send</c> span whose command was rejected.</summary>
    public const string RejectionAttribute = "eventbus.command.rejection";

    /// <summary>The value of <see cref="ErrorTypeAttribute"/> on a <c>process</c> span whose handler nacked or dead-lettered the message without throwing.</summary>
    public const string NackErrorType = "eventbus.nack";

    /// <summary>The value of <see cref="SystemAttribute"/>.</summary>
    public const string SystemName = "eventbus";

    internal static readonly ActivitySource Source = new(SourceName, typeof(EventBusTelemetry).Assembly.GetName().Version?.ToString());
}
