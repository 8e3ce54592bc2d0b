using EventBus;

namespace ModularMonolith.Inventory.Contracts;

/// <summary>Command to the Inventory module: hold stock for an order. Rejected with code "insufficient-stock" when too little is available.</summary>
public sealed record ReserveStock(int OrderId, string Sku, int Quantity) : ICommand<StockReservation>;

/// <summary>The result of an accepted <see cref="ReserveStock"/>.</summary>
public sealed record StockReservation(string ReservationId, int AvailableAfter);
