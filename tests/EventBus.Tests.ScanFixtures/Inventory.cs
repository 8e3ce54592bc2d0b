namespace EventBus.Tests.ScanFixtures;

/// <summary>What the scanned handlers did, in order; register it as a singleton.</summary>
public sealed class ScanLog
{
    private readonly List<string> _entries = [];

    public IReadOnlyList<string> Entries
    {
        get
        {
            lock (_entries)
            {
                return [.. _entries];
            }
        }
    }

    public void Add(string entry)
    {
        lock (_entries)
        {
            _entries.Add(entry);
        }
    }
}

public interface IInventoryEvent;

public sealed record StockAdjusted(string Sku, int Delta) : IInventoryEvent;

public sealed record ReserveStock(string Sku, int Quantity) : ICommand<int>;

public sealed record ReleaseStock(string Sku) : ICommand;

public sealed class StockAdjustedHandler(ScanLog log) : IEventHandler<StockAdjusted>
{
    public ValueTask HandleAsync(StockAdjusted @event, MessageContext context, CancellationToken cancellationToken)
    {
        log.Add($"StockAdjustedHandler {@event.Sku} {@event.Delta}");
        return default;
    }
}

/// <summary>Implements the event's interface and the event itself: scanning registers both, and it must still run once per event.</summary>
public sealed class InventoryAuditHandler(ScanLog log) : IEventHandler<IInventoryEvent>, IEventHandler<StockAdjusted>
{
    ValueTask IEventHandler<IInventoryEvent>.HandleAsync(IInventoryEvent @event, MessageContext context, CancellationToken cancellationToken)
    {
        log.Add($"InventoryAuditHandler (interface) {@event}");
        return default;
    }

    ValueTask IEventHandler<StockAdjusted>.HandleAsync(StockAdjusted @event, MessageContext context, CancellationToken cancellationToken)
    {
        log.Add($"InventoryAuditHandler {@event.Sku}");
        return default;
    }
}

public sealed class ReserveStockHandler(ScanLog log) : ICommandHandler<ReserveStock, int>
{
    public ValueTask<CommandResult<int>> HandleAsync(ReserveStock command, MessageContext context, CancellationToken cancellationToken)
    {
        log.Add($"ReserveStockHandler {command.Sku} {command.Quantity}");
        return ValueTask.FromResult<CommandResult<int>>(command.Quantity <= 10 ? command.Quantity : CommandResult.Reject($"Only 10 units of {command.Sku} are in stock."));
    }
}

public sealed class ReleaseStockHandler(ScanLog log) : ICommandHandler<ReleaseStock>
{
    public ValueTask<CommandResult> HandleAsync(ReleaseStock command, MessageContext context, CancellationToken cancellationToken)
    {
        log.Add($"ReleaseStockHandler {command.Sku}");
        return ValueTask.FromResult(CommandResult.Accepted);
    }
}

/// <summary>Abstract and open generic handlers are not registered by a scan.</summary>
public abstract class AbstractStockHandler : IEventHandler<StockAdjusted>
{
    public abstract ValueTask HandleAsync(StockAdjusted @event, MessageContext context, CancellationToken cancellationToken);
}

public sealed class OpenGenericHandler<TEvent> : IEventHandler<TEvent>
{
    public ValueTask HandleAsync(TEvent @event, MessageContext context, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("An open generic handler must not be registered by a scan.");
}
