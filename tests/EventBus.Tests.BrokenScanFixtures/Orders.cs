namespace EventBus.Tests.BrokenScanFixtures;

/// <summary>A command nobody handles.</summary>
public sealed record ShipOrder(int OrderId) : ICommand;

/// <summary>A command with a result that nobody handles.</summary>
public sealed record QuoteOrder(int OrderId) : ICommand<decimal>;

/// <summary>A command with two handlers.</summary>
public sealed record CancelOrder(int OrderId) : ICommand;

public sealed class CancelOrderHandler : ICommandHandler<CancelOrder>
{
    public ValueTask<CommandResult> HandleAsync(CancelOrder command, MessageContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(CommandResult.Accepted);
}

public sealed class CancelOrderAuditHandler : ICommandHandler<CancelOrder>
{
    public ValueTask<CommandResult> HandleAsync(CancelOrder command, MessageContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(CommandResult.Accepted);
}
