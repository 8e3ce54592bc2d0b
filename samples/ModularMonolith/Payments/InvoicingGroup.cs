using EventBus;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Payments;

/// <summary>
/// Payments' consumer group <see cref="Name"/> on the <see cref="OrderPlaced"/> stream: one invoice per placed order, in offset order.
/// </summary>
/// <remarks>
/// Invoice numbers must have no gaps and no duplicates, so invoicing reads the stream as a consumer group rather than as an ordinary
/// subscription. The group commits the offset of the next order to invoice; stopping it and starting it again under the same name
/// continues exactly there, and the orders placed in between wait in the stream.
/// </remarks>
internal sealed class InvoicingGroup(IEventStreams streams, InvoiceLedger ledger)
{
    /// <summary>The consumer group's name: it names the committed offset.</summary>
    public const string Name = "invoicing";

    private IStreamSubscription? _running;

    /// <summary>Starts the group: at its committed offset when it has one, otherwise at the oldest order the stream retains.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        // Read before subscribing: once started, the group's worker may print its first invoice before this method returns.
        var known = GroupInfo();
        Trace.Write("Payments", known is null
            ? $"consumer group \"{Name}\" starts at StreamPosition.First (no committed offset yet)"
            : $"consumer group \"{Name}\" resumes at its committed offset {known.CommittedOffset} (lag {known.Lag})");

        // StartPosition applies only to a group that never committed: later starts continue from the committed offset.
        _running = await streams.SubscribeAsync<OrderPlaced>(Name, IssueInvoiceAsync, o => o.StartPosition = StreamPosition.First, cancellationToken);
    }

    /// <summary>Stops the group: the order in hand is finished and what was invoiced is committed.</summary>
    public async Task StopAsync()
    {
        if (_running is null)
        {
            return;
        }

        await _running.DisposeAsync();
        _running = null;
        var stopped = GroupInfo()!;
        Trace.Write("Payments", $"consumer group \"{Name}\" stopped (DisposeAsync): committed offset {stopped.CommittedOffset} (lag {stopped.Lag})");
    }

    private SubscriptionSnapshot? GroupInfo() => streams.GetStreamInfo<OrderPlaced>().Groups.FirstOrDefault(g => g.Subscription == Name);

    private ValueTask IssueInvoiceAsync(OrderPlaced order, MessageContext context, CancellationToken cancellationToken)
    {
        var offset = context.Offset!.Value;
        var invoice = ledger.Issue(order, offset);
        Trace.Write("Payments", $"{invoice.Number} for order {order.OrderId}: {invoice.Amount:0.00} (offset {offset})", context);
        return ValueTask.CompletedTask;
    }
}
