using EventBus;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Orders;

/// <summary>
/// Builds and keeps the Orders module's <see cref="SalesReport"/>. The report is not stored anywhere: at start-up it is rebuilt by
/// replaying the <see cref="OrderPlaced"/> stream from its oldest retained event, and from the offset where the replay ended the
/// consumer group <see cref="Group"/> keeps it current.
/// </summary>
internal sealed class SalesReportProjection(IEventStreams streams)
{
    /// <summary>The name of the consumer group that keeps the report current.</summary>
    public const string Group = "sales-report";

    private IStreamSubscription? _group;

    /// <summary>Gets the report.</summary>
    public SalesReport Report { get; } = new();

    /// <summary>Rebuilds the report from the stream, then starts the consumer group that keeps it current (it runs until the bus stops).</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        // A replay reader commits nothing and belongs to no group; it ends at the head as of this call.
        var replayed = new List<long>();
        await foreach (var placed in streams.ReadAsync<OrderPlaced>(StreamPosition.First, cancellationToken: cancellationToken))
        {
            Report.Apply(placed.Event, placed.Offset);
            replayed.Add(placed.Offset);
        }

        Trace.Write("Orders", replayed.Count == 0
            ? "sales report: nothing to replay, the stream is empty"
            : $"sales report rebuilt by replaying the stream from StreamPosition.First: {replayed.Count} events, offsets {replayed[0]}-{replayed[^1]}");

        // The group takes over exactly where the replay ended: an order placed meanwhile has a later offset and is the group's.
        var next = Report.NextOffset;
        _group = await streams.SubscribeAsync<OrderPlaced>(
            Group,
            (order, context, _) =>
            {
                Report.Apply(order, context.Offset!.Value);
                return ValueTask.CompletedTask;
            },
            o => o.StartPosition = StreamPosition.AtOffset(next),
            cancellationToken);
        Trace.Write("Orders", $"consumer group \"{_group.Group}\" keeps it current from offset {next}");
    }
}
