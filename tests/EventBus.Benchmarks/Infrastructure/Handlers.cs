namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// The event handler of every workload: it only counts the delivery down. The bus rows resolve it as a singleton (the
/// instance is registered before <c>AddEventBus</c>, so the bus uses it); the raw-channel rows call the same method directly.
/// </summary>
public abstract class CountingEventHandler : IEventHandler<BenchEvent>
{
    /// <summary>Gets the signal this handler counts down.</summary>
    public CountdownSignal Signal { get; } = new();

    /// <inheritdoc />
    public ValueTask HandleAsync(BenchEvent @event, MessageContext context, CancellationToken cancellationToken)
    {
        Signal.Signal();
        return ValueTask.CompletedTask;
    }
}

/// <summary>The handler of W1 (one publisher, one handler).</summary>
public sealed class SingleHandler : CountingEventHandler;

/// <summary>The first of the four broadcast handlers of W2 (each handler type is a subscription of its own).</summary>
public sealed class BroadcastHandler1 : CountingEventHandler;

/// <summary>The second broadcast handler of W2.</summary>
public sealed class BroadcastHandler2 : CountingEventHandler;

/// <summary>The third broadcast handler of W2.</summary>
public sealed class BroadcastHandler3 : CountingEventHandler;

/// <summary>The fourth broadcast handler of W2.</summary>
public sealed class BroadcastHandler4 : CountingEventHandler;

/// <summary>The handler of W3: one queue subscription with four competing workers.</summary>
public sealed class QueueHandler : CountingEventHandler;

/// <summary>The command handler of W4: returns <c>Value + 1</c> synchronously.</summary>
public sealed class BenchCommandHandler : ICommandHandler<BenchCommand, int>
{
    /// <summary>The handler's work, callable directly (the direct-call row).</summary>
    /// <param name="command">The command.</param>
    /// <returns>The result.</returns>
    public static int Handle(BenchCommand command) => command.Value + 1;

    /// <inheritdoc />
    public ValueTask<CommandResult<int>> HandleAsync(BenchCommand command, MessageContext context, CancellationToken cancellationToken) =>
        new(Handle(command));
}

/// <summary>The handler of the key-ordered stream workload: one consumer group with four key-ordered workers.</summary>
public sealed class KeyOrderedHandler : CountingEventHandler;
