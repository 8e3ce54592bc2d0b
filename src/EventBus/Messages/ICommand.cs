namespace EventBus;

/// <summary>
/// Marks every command. Do not implement it directly: implement <see cref="ICommand"/> or <see cref="ICommand{TResult}"/>.
/// </summary>
/// <remarks>The bus uses it to refuse a command published as an event, and an event sent as a command.</remarks>
#pragma warning disable CA1040 // Marker interfaces: they classify message types at registration and at publish.
public interface IBaseCommand;

/// <summary>
/// Marks a command that returns no value: a request, addressed to exactly one handler, that the handler may reject.
/// </summary>
/// <remarks>Commands are sent with <see cref="ICommandBus"/>, never published as events.</remarks>
public interface ICommand : IBaseCommand;

/// <summary>
/// Marks a command whose handler returns a <typeparamref name="TResult"/> when it accepts the command.
/// </summary>
/// <typeparam name="TResult">The type of the result returned by the handler.</typeparam>
/// <remarks>Commands are sent with <see cref="ICommandBus"/>, never published as events.</remarks>
public interface ICommand<TResult> : IBaseCommand;
#pragma warning restore CA1040
