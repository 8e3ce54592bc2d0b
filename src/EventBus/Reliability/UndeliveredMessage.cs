namespace EventBus;

/// <summary>Why a message was not handled successfully by a subscription.</summary>
public enum UndeliveredReason
{
    /// <summary>The handler (or a middleware) threw an exception.</summary>
    HandlerFailed = 0,

    /// <summary>The subscription's buffer was full and its policy is <see cref="FullPolicy.DropOldest"/>: this, the oldest buffered message, was dropped.</summary>
    DroppedOldest = 1,

    /// <summary>The subscription's buffer was full and its policy is <see cref="FullPolicy.DropNewest"/>: this message was not buffered.</summary>
    DroppedNewest = 2,

    /// <summary>An enqueued command was rejected by its handler; nobody awaited the outcome, so it is reported here.</summary>
    CommandRejected = 3,

    /// <summary>
    /// The bus stopped before the message was taken from the buffer: its stop timeout expired, or it was disposed while running
    /// without <see cref="IEventBusControl.StopAsync"/> (which does not drain).
    /// </summary>
    NotStartedBeforeStop = 4,

    /// <summary>The bus stopped, its stop timeout expired while the handler was running, and the handler ended cancelled or was abandoned.</summary>
    CancelledByStop = 5,

    /// <summary>The handler nacked or dead-lettered the message explicitly (<see cref="MessageSettlement.Nack(string)"/>, <see cref="MessageSettlement.DeadLetter(string)"/>) and it has no attempts left.</summary>
    Nacked = 6,

    /// <summary>The bus stopped while the message waited for a delayed redelivery.</summary>
    RedeliveryAbandonedByStop = 7,

    /// <summary>The subscription's dead-letter queue was full: this, its oldest dead letter, was discarded.</summary>
    DeadLetterDiscarded = 8,
}

/// <summary>A message that a subscription did not handle successfully, with the reason. Reported to <see cref="EventBusOptions.OnUndelivered"/>.</summary>
public sealed class UndeliveredMessage
{
    internal UndeliveredMessage(object message, MessageContext context, string topic, string subscription, UndeliveredReason reason, Exception? exception)
    {
        Message = message;
        Context = context;
        Topic = topic;
        Subscription = subscription;
        Reason = reason;
        Exception = exception;
    }

    /// <summary>Gets the message.</summary>
    public object Message { get; }

    /// <summary>Gets the message's envelope.</summary>
    public MessageContext Context { get; }

    /// <summary>Gets the topic (message-type key) the message was published to.</summary>
    public string Topic { get; }

    /// <summary>Gets the subscription that did not handle the message.</summary>
    public string Subscription { get; }

    /// <summary>Gets why the message was not handled.</summary>
    public UndeliveredReason Reason { get; }

    /// <summary>Gets the exception, for <see cref="UndeliveredReason.HandlerFailed"/> and <see cref="UndeliveredReason.CancelledByStop"/>; otherwise <see langword="null"/>.</summary>
    public Exception? Exception { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Reason}: {Context.MessageType} {Context.MessageId} on subscription '{Subscription}'";
}
