using EventBus;
using ModularMonolith.Orders.Contracts;

namespace ModularMonolith.Scenario;

/// <summary>The demo's subscription to <see cref="OrderPlaced"/> that keeps <see cref="LiveSalesReport"/> as the orders come in.</summary>
internal sealed class UpdateLiveSalesReport(LiveSalesReport live) : IEventHandler<OrderPlaced>
{
    public ValueTask HandleAsync(OrderPlaced order, MessageContext context, CancellationToken cancellationToken)
    {
        // OrderPlaced is a stream, so an ordinary subscription's envelope carries the event's offset too.
        live.Report.Apply(order, context.Offset!.Value);
        return ValueTask.CompletedTask;
    }
}
