using EventBus;
using ModularMonolith.Inventory.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Inventory;

/// <summary>Handles <see cref="ReserveStock"/>: accepts with a reservation, or rejects when too little stock is available.</summary>
internal sealed class ReserveStockHandler(StockLedger stock) : ICommandHandler<ReserveStock, StockReservation>
{
    public ValueTask<CommandResult<StockReservation>> HandleAsync(ReserveStock command, MessageContext context, CancellationToken cancellationToken)
    {
        if (!stock.TryReserve(command.Sku, command.Quantity, out var available))
        {
            Trace.Write("Inventory", $"cannot reserve {command.Quantity} x {command.Sku} for order {command.OrderId}: {available} available", context.CorrelationId);
            return ValueTask.FromResult<CommandResult<StockReservation>>(CommandResult.Reject(
                $"only {available} x {command.Sku} available, {command.Quantity} ordered", "insufficient-stock"));
        }

        Trace.Write("Inventory", $"reserved {command.Quantity} x {command.Sku} for order {command.OrderId} ({available} still available)", context.CorrelationId);
        return ValueTask.FromResult<CommandResult<StockReservation>>(new StockReservation($"R-{command.OrderId}", available));
    }
}
