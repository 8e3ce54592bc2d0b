namespace EventBus;

/// <summary>Thrown when the bus is built with an invalid handler topology (e.g. a command type with zero or two handlers). Lists every problem found.</summary>
public sealed class EventBusConfigurationException : InvalidOperationException
{
    /// <summary>Initializes a new instance.</summary>
    public EventBusConfigurationException()
        : base("The event bus configuration is invalid.")
    {
        Problems = [];
    }

    /// <summary>Initializes a new instance with a message.</summary>
    /// <param name="message">The message.</param>
    public EventBusConfigurationException(string message)
        : base(message)
    {
        Problems = [message];
    }

    /// <summary>Initializes a new instance with a message and an inner exception.</summary>
    /// <param name="message">The message.</param>
    /// <param name="innerException">The inner exception.</param>
    public EventBusConfigurationException(string message, Exception innerException)
        : base(message, innerException)
    {
        Problems = [message];
    }

    internal EventBusConfigurationException(IReadOnlyList<string> problems)
        : base($"The event bus configuration has {problems.Count} problem(s):{Environment.NewLine}- {string.Join(Environment.NewLine + "- ", problems)}")
    {
        Problems = problems;
    }

    /// <summary>Gets every problem found, one sentence each.</summary>
    public IReadOnlyList<string> Problems { get; }
}
