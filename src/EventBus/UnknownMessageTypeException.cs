namespace EventBus;

/// <summary>Thrown when a message type has no handler (and, for events, was not declared as a topic).</summary>
public sealed class UnknownMessageTypeException : InvalidOperationException
{
    /// <summary>Initializes a new instance.</summary>
    public UnknownMessageTypeException()
        : base("The message type is not registered with the event bus.")
    {
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">The message.</param>
    public UnknownMessageTypeException(string message)
        : base(message)
    {
    }

    /// <summary>Initializes a new instance with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The inner exception.</param>
    public UnknownMessageTypeException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    internal UnknownMessageTypeException(Type messageType, string message)
        : base(message)
    {
        MessageType = messageType;
    }

    /// <summary>Gets the unregistered message type.</summary>
    public Type? MessageType { get; }
}
