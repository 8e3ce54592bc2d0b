using ModularMonolith.Orders.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Orders;

/// <summary>
/// A read model of the Orders module for the back office: orders, units and revenue per SKU. It is nothing but a projection of the
/// <see cref="OrderPlaced"/> stream, so it can be thrown away and rebuilt from the stream at any time.
/// </summary>
/// <remarks>
/// It remembers the offset of the next event it expects and ignores an event below it: a consumer group delivers at least once (after
/// a crash it reads again what it had not committed), so applying the same event twice must change nothing.
/// </remarks>
internal sealed class SalesReport
{
    private readonly Lock _lock = new();
    private readonly SortedDictionary<string, SalesLine> _lines = new(StringComparer.Ordinal);
    private readonly OffsetWatermark _applied = new();

    /// <summary>Gets the offset of the next event the report expects: it includes every event before it.</summary>
    public long NextOffset => _applied.Next;

    /// <summary>Gets the report's lines, ordered by SKU.</summary>
    public IReadOnlyList<SalesLine> Lines
    {
        get
        {
            lock (_lock)
            {
                return [.. _lines.Values];
            }
        }
    }

    /// <summary>Adds the order at <paramref name="offset"/> of the stream; returns false when the report already includes it.</summary>
    public bool Apply(OrderPlaced order, long offset)
    {
        lock (_lock)
        {
            if (offset < _applied.Next)
            {
                return false;
            }

            var line = _lines.GetValueOrDefault(order.Sku) ?? new SalesLine(order.Sku, 0, 0, 0m);
            _lines[order.Sku] = line with { Orders = line.Orders + 1, Units = line.Units + order.Quantity, Revenue = line.Revenue + order.Total };
            _applied.MoveTo(offset + 1);
            return true;
        }
    }

    /// <summary>Waits until the report includes every event before <paramref name="offset"/>.</summary>
    public Task WaitForOffsetAsync(long offset, TimeSpan timeout) => _applied.WaitForAsync(offset, timeout);

    /// <summary>One entry per SKU: "SKU orders/units/revenue".</summary>
    public override string ToString() => string.Join("   ", Lines.Select(l => $"{l.Sku} {l.Orders}/{l.Units}/{l.Revenue:0.00}"));
}
