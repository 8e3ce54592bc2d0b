namespace ModularMonolith.Inventory;

/// <summary>The Inventory module's own state: units on hand and units reserved, per SKU.</summary>
internal sealed class StockLedger(IReadOnlyDictionary<string, int> initialStock)
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, (int OnHand, int Reserved)> _stock = initialStock.ToDictionary(s => s.Key, s => (s.Value, 0));

    /// <summary>Reserves <paramref name="quantity"/> units if that many are available; returns the units available afterwards, or the shortfall.</summary>
    public bool TryReserve(string sku, int quantity, out int available)
    {
        lock (_lock)
        {
            var (onHand, reserved) = _stock.GetValueOrDefault(sku);
            available = onHand - reserved;
            if (quantity > available)
            {
                return false;
            }

            _stock[sku] = (onHand, reserved + quantity);
            available -= quantity;
            return true;
        }
    }

    /// <summary>Turns a reservation into a pick: the units leave the shelf. Returns the units left on hand.</summary>
    public int Pick(string sku, int quantity)
    {
        lock (_lock)
        {
            var (onHand, reserved) = _stock[sku];
            _stock[sku] = (onHand - quantity, reserved - quantity);
            return onHand - quantity;
        }
    }
}
