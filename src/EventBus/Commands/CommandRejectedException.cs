namespace EventBus;

/// <summary>
/// Thrown when the handler rejected a command and the caller asked for the value: by a typed sender's <c>InvokeAsync</c>, by
/// <see cref="CommandResult{TResult}.Value"/> and by <see cref="CommandResult.ThrowIfRejected"/>. Thrown from middleware or a
/// handler, it turns into a rejection for <c>SendAsync</c> callers.
/// </summary>
public sealed class CommandRejectedException : Exception
{
    /// <summary>Initializes a new instance with the rejection.</summary>
    /// <param name="commandType">The type of the rejected command.</param>
    /// <param name="rejection">The rejection.</param>
    public CommandRejectedException(Type commandType, CommandRejection rejection)
        : base($"The command '{commandType?.FullName}' was rejected: {rejection?.Reason}")
    {
        ArgumentNullException.ThrowIfNull(commandType);
        ArgumentNullException.ThrowIfNull(rejection);
        CommandType = commandType;
        Rejection = rejection;
    }

    /// <summary>Initializes a new instance for a rejection read from a result, which does not name its command type.</summary>
    internal CommandRejectedException(CommandRejection rejection)
        : base($"The command was rejected: {rejection.Reason}")
    {
        Rejection = rejection;
        CommandType = typeof(object);
    }

    /// <summary>Initializes a new instance with a default message.</summary>
    public CommandRejectedException()
        : this("The command was rejected.")
    {
    }

    /// <summary>Initializes a new instance with a rejection reason.</summary>
    /// <param name="message">The rejection reason.</param>
    public CommandRejectedException(string message)
        : base(message)
    {
        Rejection = new CommandRejection(message);
        CommandType = typeof(object);
    }

    /// <summary>Initializes a new instance with a rejection reason and an inner exception.</summary>
    /// <param name="message">The rejection reason.</param>
    /// <param name="innerException">The exception that caused the rejection.</param>
    public CommandRejectedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Rejection = new CommandRejection(message);
        CommandType = typeof(object);
    }

    /// <summary>Gets the type of the rejected command (<see cref="object"/> when it is not known: thrown without one, or from a <see cref="CommandResult"/>).</summary>
    public Type CommandType { get; }

    /// <summary>Gets the rejection.</summary>
    public CommandRejection Rejection { get; }
}
