using System.Collections.Concurrent;
using ModularMonolith.Orders.Contracts;

namespace ModularMonolith.Orders;

/// <summary>The Orders module's own state (its "database"): the orders it accepted, by id.</summary>
internal sealed class OrderBook
{
    private readonly ConcurrentDictionary<int, PlaceOrder> _orders = new();

    public void Add(PlaceOrder order) => _orders[order.OrderId] = order;

    public PlaceOrder Get(int orderId) => _orders[orderId];
}
