using EventBus;
using ModularMonolith.Inventory.Contracts;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Orders;

/// <summary>
/// Places an order: asks Inventory to reserve the stock (a command, which Inventory may reject), then publishes
/// <see cref="OrderPlaced"/> or <see cref="OrderRejected"/>. The order id becomes the correlation id of the whole flow.
/// Inventory's command comes in as its typed sender: bound to its handler once, and the dependency names the one use case
/// of Inventory that Orders calls.
/// </summary>
internal sealed class PlaceOrderHandler(ICommandSender<ReserveStock, StockReservation> reserveStock, IEventBus events, OrderBook orders) : ICommandHandler<PlaceOrder, OrderReceipt>
{
    public async ValueTask<CommandResult<OrderReceipt>> HandleAsync(PlaceOrder order, MessageContext context, CancellationToken cancellationToken)
    {
        // Start the flow's correlation here; every handler downstream carries it on with PublishOptions.CausedBy.
        var flow = new PublishOptions { CorrelationId = $"order-{order.OrderId}", CausationId = context.MessageId.ToString() };

        // The inline command carries the flow too, so Inventory's handler sees the correlation id.
        var reservation = await reserveStock.SendAsync(new ReserveStock(order.OrderId, order.Sku, order.Quantity), flow, cancellationToken);
        if (!reservation.IsAccepted)
        {
            Trace.Write("Orders", $"order {order.OrderId} refused: {reservation.Rejection.Reason}", flow.CorrelationId);
            await events.PublishAsync(new OrderRejected(order.OrderId, order.CustomerEmail, reservation.Rejection.Reason), flow, cancellationToken);
            return reservation.Rejection; // the storefront gets the same rejection
        }

        orders.Add(order);
        var total = order.Quantity * order.UnitPrice;
        Trace.Write("Orders", $"order {order.OrderId} placed: {order.Quantity} x {order.Sku} = {total:0.00}", flow.CorrelationId);
        await events.PublishAsync(new OrderPlaced(order.OrderId, order.CustomerEmail, order.Sku, order.Quantity, total, reservation.Value.ReservationId), flow, cancellationToken);
        return new OrderReceipt(order.OrderId, total);
    }
}
