using EventBus;
using ModularMonolith.Notifications.Contracts;
using ModularMonolith.Orders.Contracts;

namespace ModularMonolith.Notifications;

/// <summary>
/// Notifications' subscriptions to the order events: each one turns into a <see cref="SendEmail"/> on the mail queue.
/// Enqueuing returns at once, so a slow mail server never holds up the order events.
/// </summary>
internal sealed class EmailCustomers(ICommandBus commands) : IEventHandler<OrderPlaced>, IEventHandler<OrderConfirmed>, IEventHandler<OrderRejected>
{
    public ValueTask HandleAsync(OrderPlaced order, MessageContext context, CancellationToken cancellationToken) =>
        Enqueue(order.CustomerEmail, $"Order {order.OrderId} received", context, cancellationToken);

    public ValueTask HandleAsync(OrderConfirmed order, MessageContext context, CancellationToken cancellationToken) =>
        Enqueue(order.CustomerEmail, $"Order {order.OrderId} confirmed", context, cancellationToken);

    public ValueTask HandleAsync(OrderRejected order, MessageContext context, CancellationToken cancellationToken) =>
        Enqueue(order.CustomerEmail, $"Order {order.OrderId} refused", context, cancellationToken);

    // CausedBy: the email carries the order flow's correlation id, and points back at the event that caused it.
    private ValueTask Enqueue(string to, string subject, in MessageContext cause, CancellationToken cancellationToken) =>
        commands.EnqueueAsync(new SendEmail(to, subject), PublishOptions.CausedBy(cause), cancellationToken);
}
