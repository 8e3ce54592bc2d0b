using EventBus;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Payments.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Payments;

/// <summary>Payments' subscription to <see cref="OrderPlaced"/>: captures the payment, then publishes <see cref="PaymentCaptured"/> as a cascade.</summary>
internal sealed class CapturePaymentWhenOrderPlaced(IEventBus events) : IEventHandler<OrderPlaced>
{
    public async ValueTask HandleAsync(OrderPlaced order, MessageContext context, CancellationToken cancellationToken)
    {
        await Task.Delay(20, cancellationToken); // the payment provider's round trip
        var paymentId = $"PAY-{order.OrderId}";
        Trace.Write("Payments", $"captured {order.Total:0.00} for order {order.OrderId} ({paymentId})", context);

        // CausedBy: same correlation id as the order's flow, causation id = this OrderPlaced's message id.
        await events.PublishAsync(new PaymentCaptured(order.OrderId, order.Total, paymentId), PublishOptions.CausedBy(context), cancellationToken);
    }
}
