namespace EventBus;

#pragma warning disable CA1040 // Marker interfaces: they classify message types at registration and at publish.

/// <summary>
/// Marks a command that returns no value: a request, addressed to exactly one handler, that the handler may reject.
/// </summary>
/// <remarks>Commands are sent with <see cref="ICommandBus"/>, never published as events.</remarks>
public interface ICommand;

/// <summary>
/// Marks a command whose handler returns a <typeparamref name="TResult"/> when it accepts the command.
/// </summary>
/// <typeparam name="TResult">The type of the result returned by the handler.</typeparam>
/// <remarks>Commands are sent with <see cref="ICommandBus"/>, never published as events.</remarks>
public interface ICommand<TResult>;
#pragma warning restore CA1040
