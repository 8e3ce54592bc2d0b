using EventBus;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Inventory;

/// <summary>Inventory's subscription to <see cref="OrderPlaced"/>: the reserved units are picked for shipping.</summary>
internal sealed class PickStockWhenOrderPlaced(StockLedger stock) : IEventHandler<OrderPlaced>
{
    public ValueTask HandleAsync(OrderPlaced order, MessageContext context, CancellationToken cancellationToken)
    {
        var left = stock.Pick(order.Sku, order.Quantity);
        Trace.Write("Inventory", $"picked {order.ReservationId}: {order.Quantity} x {order.Sku} ({left} left on the shelf)", context);
        return ValueTask.CompletedTask;
    }
}
