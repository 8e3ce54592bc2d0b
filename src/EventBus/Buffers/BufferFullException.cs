namespace EventBus;

/// <summary>Thrown by a publish when a subscription whose policy is <see cref="FullPolicy.FailFast"/> has no room; no subscription received the message.</summary>
public sealed class BufferFullException : InvalidOperationException
{
    /// <summary>Initializes a new instance.</summary>
    public BufferFullException()
        : base("A subscription buffer is full.")
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">The message.</param>
    public BufferFullException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The inner exception.</param>
    public BufferFullException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal BufferFullException(string topic, string subscription, int capacity, int requested)
        : base($"The buffer of subscription '{subscription}' on topic '{topic}' is full (capacity {capacity}, {requested} message(s) offered) and its FullPolicy is FailFast; the message was not published to any subscription. Raise its Capacity, add workers, or choose FullPolicy.Wait.")
    {
        Topic = topic;
        Subscription = subscription;
        Capacity = capacity;
    }

    /// <summary>Gets the topic that was published to.</summary>
    public string? Topic { get; }

    /// <summary>Gets the subscription whose buffer was full.</summary>
    public string? Subscription { get; }

    /// <summary>Gets the capacity of the full buffer.</summary>
    public int Capacity { get; }
}
