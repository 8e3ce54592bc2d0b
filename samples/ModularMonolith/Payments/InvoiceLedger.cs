using ModularMonolith.Orders.Contracts;
using ModularMonolith.Payments.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Payments;

/// <summary>The invoices Payments issued, numbered in the order it issued them, with the stream offset of the order each one is for.</summary>
internal sealed class InvoiceLedger
{
    private readonly Lock _lock = new();
    private readonly List<Invoice> _invoices = [];
    private readonly List<long> _offsets = [];
    private readonly OffsetWatermark _invoiced = new();

    /// <summary>Gets the invoices, in issue order.</summary>
    public IReadOnlyList<Invoice> Invoices
    {
        get
        {
            lock (_lock)
            {
                return [.. _invoices];
            }
        }
    }

    /// <summary>Gets the stream offset of the order each invoice is for, in issue order.</summary>
    public IReadOnlyList<long> Offsets
    {
        get
        {
            lock (_lock)
            {
                return [.. _offsets];
            }
        }
    }

    /// <summary>Issues the next invoice, for the order at <paramref name="offset"/> of the stream.</summary>
    public Invoice Issue(OrderPlaced order, long offset)
    {
        lock (_lock)
        {
            var invoice = new Invoice($"INV-{_invoices.Count + 1:0000}", order.OrderId, order.Total);
            _invoices.Add(invoice);
            _offsets.Add(offset);
            _invoiced.MoveTo(offset + 1);
            return invoice;
        }
    }

    /// <summary>Waits until every order before <paramref name="offset"/> of the stream has been invoiced.</summary>
    public Task WaitForOffsetAsync(long offset, TimeSpan timeout) => _invoiced.WaitForAsync(offset, timeout);
}
