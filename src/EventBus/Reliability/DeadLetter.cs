using System.Diagnostics;

namespace EventBus;

/// <summary>A message that exhausted its delivery attempts (or was dead-lettered by its handler), with its death record.</summary>
[DebuggerDisplay("{Context.MessageType,nq} {Context.MessageId} on {Subscription,nq}: {Reason,nq}")]
public sealed class DeadLetter
{
    internal DeadLetter(object message, MessageContext context, string topic, string subscription, string reason, Exception? exception, int deliveryCount, DateTimeOffset firstFailure, DateTimeOffset lastFailure)
    {
        Message = message;
        Context = context;
        Topic = topic;
        Subscription = subscription;
        Reason = reason;
        ExceptionType = exception?.GetType().FullName;
        ExceptionMessage = exception?.Message;
        ExceptionDetails = exception?.ToString();
        DeliveryCount = deliveryCount;
        FirstFailure = firstFailure;
        LastFailure = lastFailure;
    }

    /// <summary>Gets the message.</summary>
    public object Message { get; }

    /// <summary>Gets the message's envelope as of its last delivery.</summary>
    public MessageContext Context { get; }

    /// <summary>Gets the message id (the same as <c>Context.MessageId</c>).</summary>
    public MessageId MessageId => Context.MessageId;

    /// <summary>Gets the topic the message was published to.</summary>
    public string Topic { get; }

    /// <summary>Gets the subscription that dead-lettered it.</summary>
    public string Subscription { get; }

    /// <summary>Gets why: the last exception's message, the handler's nack reason, or the timeout.</summary>
    public string Reason { get; }

    /// <summary>Gets the full name of the last exception's type, or <see langword="null"/> when the handler nacked without one.</summary>
    public string? ExceptionType { get; }

    /// <summary>Gets the last exception's message, or <see langword="null"/>.</summary>
    public string? ExceptionMessage { get; }

    /// <summary>
    /// Gets the last exception as <see cref="Exception.ToString"/> writes it: its type, message, stack trace and inner exceptions
    /// (where the handler failed); <see langword="null"/> when the handler nacked without one.
    /// </summary>
    public string? ExceptionDetails { get; }

    /// <summary>Gets how many times the message was delivered before it was dead-lettered.</summary>
    public int DeliveryCount { get; }

    /// <summary>Gets when the first attempt of this round failed.</summary>
    public DateTimeOffset FirstFailure { get; }

    /// <summary>Gets when the last attempt failed.</summary>
    public DateTimeOffset LastFailure { get; }
}

/// <summary>The dead letters of every subscription: inspect, re-drive and purge them. Resolve it from DI.</summary>
public interface IDeadLetterQueue
{
    /// <summary>Gets the number of dead letters kept, over all subscriptions.</summary>
    int Count { get; }

    /// <summary>Lists the dead letters, oldest first.</summary>
    /// <param name="subscription">Only this subscription's, or <see langword="null"/> for all.</param>
    /// <returns>A copy of the dead letters.</returns>
    IReadOnlyList<DeadLetter> GetDeadLetters(string? subscription = null);

    /// <summary>
    /// Puts dead letters back into their subscription's buffer for a new round of attempts (delivery count back to 1). Waits for
    /// room like a publish; a dead letter leaves the queue only once it is back in the buffer.
    /// </summary>
    /// <param name="predicate">Which dead letters to re-drive, or <see langword="null"/> for all.</param>
    /// <param name="cancellationToken">Cancels waiting for room; the dead letters not yet re-driven stay.</param>
    /// <returns>How many were re-driven.</returns>
    /// <exception cref="ObjectDisposedException">The bus has been stopped.</exception>
    ValueTask<int> RedriveAsync(Func<DeadLetter, bool>? predicate = null, CancellationToken cancellationToken = default);

    /// <summary>Removes dead letters for good.</summary>
    /// <param name="predicate">Which dead letters to remove, or <see langword="null"/> for all.</param>
    /// <returns>How many were removed.</returns>
    int Purge(Func<DeadLetter, bool>? predicate = null);
}
