using Microsoft.Extensions.Logging;

namespace EventBus;

/// <summary>Every log message of the bus: source-generated, with fixed event ids and names.</summary>
internal static partial class Log
{
    [LoggerMessage(EventId = 1, EventName = "HandlerFailed", Level = LogLevel.Warning,
        Message = "Subscription {Subscription} failed to handle {MessageType} {MessageId} (delivery {DeliveryCount})")]
    public static partial void HandlerFailed(ILogger logger, string subscription, string messageType, MessageId messageId, int deliveryCount, Exception? exception);

    [LoggerMessage(EventId = 2, EventName = "MessageDropped", Level = LogLevel.Warning,
        Message = "Subscription {Subscription} dropped {MessageType} {MessageId}: its buffer was full ({Reason})")]
    public static partial void MessageDropped(ILogger logger, string subscription, string messageType, MessageId messageId, UndeliveredReason reason);

    [LoggerMessage(EventId = 3, EventName = "CommandRejected", Level = LogLevel.Information,
        Message = "Enqueued command {MessageType} {MessageId} was rejected: {Reason}")]
    public static partial void CommandRejected(ILogger logger, string messageType, MessageId messageId, string reason);

    [LoggerMessage(EventId = 4, EventName = "MessageUnfinished", Level = LogLevel.Warning,
        Message = "Subscription {Subscription} did not finish {MessageType} {MessageId} before the bus stopped ({Reason})")]
    public static partial void MessageUnfinished(ILogger logger, string subscription, string messageType, MessageId messageId, UndeliveredReason reason);

    [LoggerMessage(EventId = 5, EventName = "BusStarted", Level = LogLevel.Information,
        Message = "Event bus started: {TopicCount} topic(s), {SubscriptionCount} subscription(s), {CommandCount} command type(s)")]
    public static partial void BusStarted(ILogger logger, int topicCount, int subscriptionCount, int commandCount);

    [LoggerMessage(EventId = 6, EventName = "BusStopped", Level = LogLevel.Information,
        Message = "Event bus stopped in {Elapsed}: drained {Drained}, {UnfinishedCount} message(s) unfinished, {LaggingGroupCount} consumer group(s) behind their stream")]
    public static partial void BusStopped(ILogger logger, TimeSpan elapsed, bool drained, int unfinishedCount, int laggingGroupCount);

    [LoggerMessage(EventId = 7, EventName = "UndeliveredCallbackFailed", Level = LogLevel.Error,
        Message = "EventBusOptions.OnUndelivered threw for {MessageType} {MessageId}; the exception is ignored")]
    public static partial void UndeliveredCallbackFailed(ILogger logger, string messageType, MessageId messageId, Exception exception);

    [LoggerMessage(EventId = 9, EventName = "Redelivering", Level = LogLevel.Warning,
        Message = "Subscription {Subscription} failed to handle {MessageType} {MessageId}; it will be redelivered (attempt {NextAttempt}) after {Delay}")]
    public static partial void Redelivering(ILogger logger, string subscription, string messageType, MessageId messageId, int nextAttempt, TimeSpan delay, Exception? exception);

    [LoggerMessage(EventId = 10, EventName = "DeadLettered", Level = LogLevel.Error,
        Message = "Subscription {Subscription} dead-lettered {MessageType} {MessageId} after {DeliveryCount} delivery attempt(s): {Reason}")]
    public static partial void DeadLettered(ILogger logger, string subscription, string messageType, MessageId messageId, int deliveryCount, string reason, Exception? exception);

    [LoggerMessage(EventId = 11, EventName = "DuplicateSkipped", Level = LogLevel.Debug,
        Message = "Subscription {Subscription} skipped {MessageType} {MessageId}: it was already handled (idempotency window)")]
    public static partial void DuplicateSkipped(ILogger logger, string subscription, string messageType, MessageId messageId);

    [LoggerMessage(EventId = 8, EventName = "StopTimedOut", Level = LogLevel.Warning,
        Message = "Event bus stop timed out after {Timeout}; cancelling handlers that are still running")]
    public static partial void StopTimedOut(ILogger logger, TimeSpan timeout);

    [LoggerMessage(EventId = 12, EventName = "StreamEventsSkipped", Level = LogLevel.Warning,
        Message = "Consumer group {Group} on stream {Topic} skipped {Count} event(s) from offset {FromOffset}: {Reason}")]
    public static partial void StreamEventsSkipped(ILogger logger, string group, string topic, long count, long fromOffset, string reason);

    [LoggerMessage(EventId = 13, EventName = "ConsumerGroupFaulted", Level = LogLevel.Error,
        Message = "Consumer group {Group} on stream {Topic} stopped on offset {Offset} after {DeliveryCount} failed attempt(s) (failure policy Stop); it resumes there when started again")]
    public static partial void ConsumerGroupFaulted(ILogger logger, string group, string topic, long offset, int deliveryCount, Exception? exception);

    [LoggerMessage(EventId = 14, EventName = "OffsetStoreFailed", Level = LogLevel.Error,
        Message = "Consumer group {Group} on stream {Topic} could not save its committed offset {Offset}; it is kept in memory and saved again on the next commit")]
    public static partial void OffsetStoreFailed(ILogger logger, string group, string topic, long offset, Exception exception);

    [LoggerMessage(EventId = 16, EventName = "CommittedOffsetBeyondHead", Level = LogLevel.Warning,
        Message = "Consumer group {Group} on stream {Topic} committed offset {Offset}, beyond the stream's head {Head}; its reset policy {ResetPolicy} starts it at offset {Position}")]
    public static partial void CommittedOffsetBeyondHead(ILogger logger, string group, string topic, long offset, long head, OffsetResetPolicy resetPolicy, long position);

    [LoggerMessage(EventId = 17, EventName = "ObserverFailed", Level = LogLevel.Error,
        Message = "Event bus observer {Observer} threw in {Method}; the exception is ignored")]
    public static partial void ObserverFailed(ILogger logger, string observer, string method, Exception exception);

    [LoggerMessage(EventId = 18, EventName = "DisposedWithoutStop", Level = LogLevel.Warning,
        Message = "The event bus was disposed while running, without IEventBusControl.StopAsync: it did not drain, and {UnfinishedCount} message(s) were not delivered. Stop the bus before disposing the container (the generic host does) to deliver what is buffered")]
    public static partial void DisposedWithoutStop(ILogger logger, int unfinishedCount);
}
