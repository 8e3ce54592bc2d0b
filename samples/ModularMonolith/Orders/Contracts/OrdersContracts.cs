using EventBus;

namespace ModularMonolith.Orders.Contracts;

/// <summary>Command to the Orders module (sent by the storefront): place an order. Rejected when the stock is too low.</summary>
public sealed record PlaceOrder(int OrderId, string CustomerEmail, string Sku, int Quantity, decimal UnitPrice) : ICommand<OrderReceipt>;

/// <summary>The result of an accepted <see cref="PlaceOrder"/>.</summary>
public sealed record OrderReceipt(int OrderId, decimal Total);

/// <summary>Event: an order was placed and its stock reserved.</summary>
public sealed record OrderPlaced(int OrderId, string CustomerEmail, string Sku, int Quantity, decimal Total, string ReservationId);

/// <summary>Event: an order was refused.</summary>
public sealed record OrderRejected(int OrderId, string CustomerEmail, string Reason);

/// <summary>Event: an order was paid and is confirmed.</summary>
public sealed record OrderConfirmed(int OrderId, string CustomerEmail, string PaymentId);

/// <summary>One line of the Orders module's sales report: what was sold of one SKU.</summary>
public sealed record SalesLine(string Sku, int Orders, int Units, decimal Revenue);
