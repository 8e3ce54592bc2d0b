using EventBus;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Payments.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Orders;

/// <summary>Confirms an order when Payments reports the payment captured: a cascade that keeps the flow's correlation.</summary>
internal sealed class ConfirmOrderWhenPaid(IEventBus events, OrderBook orders) : IEventHandler<PaymentCaptured>
{
    public async ValueTask HandleAsync(PaymentCaptured payment, MessageContext context, CancellationToken cancellationToken)
    {
        var order = orders.Get(payment.OrderId);
        Trace.Write("Orders", $"order {order.OrderId} confirmed (paid by {payment.PaymentId})", context);
        await events.PublishAsync(new OrderConfirmed(order.OrderId, order.CustomerEmail, payment.PaymentId), PublishOptions.CausedBy(context), cancellationToken);
    }
}
