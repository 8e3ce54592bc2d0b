using EventBus;
using EventBus.Testing;
using Microsoft.Extensions.DependencyInjection;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Payments.Contracts;

namespace ModularMonolith.Tests;

/// <summary>
/// The sample's <see cref="OrderPlaced"/> stream, through the test harness: the sales report rebuilt by a replay equals the one kept
/// live and is then kept by its consumer group from the next offset; the invoicing group, stopped while orders are placed and started
/// again under the same name, continues at its committed offset. The orders are Program.cs's. No sleeps.
/// </summary>
public sealed class OrderStreamTests
{
    private const string SalesReportGroup = "sales-report";
    private const string InvoicingGroup = "invoicing";

    /// <summary>Program.cs's first five orders: 1003 is refused, the other four get offsets 0 to 3.</summary>
    private static readonly PlaceOrder[] History =
    [
        new(1001, "alice@example.com", "SKU-MUG", 2, 12.50m),
        new(1002, "bob@example.com", "SKU-LAMP", 1, 39.90m),
        new(1003, "carol@example.com", "SKU-LAMP", 3, 39.90m),
        new(1004, "dave@example.com", "SKU-BOOK", 1, 18.00m),
        new(1005, "erin@example.com", "SKU-MUG", 4, 12.50m),
    ];

    /// <summary>Program.cs's three later orders: offsets 4 to 6.</summary>
    private static readonly PlaceOrder[] Later =
    [
        new(1006, "frank@example.com", "SKU-BOOK", 2, 18.00m),
        new(1007, "grace@example.com", "SKU-MUG", 1, 12.50m),
        new(1008, "heidi@example.com", "SKU-LAMP", 1, 39.90m),
    ];

    [Fact]
    public async Task SalesReport_RebuiltByReplayAfterTheHistory_EqualsTheLiveReportThenItsGroupAppliesEachLaterOrderOnce()
    {
        var (services, harness) = await SampleApp.StartAsync();
        await using var _ = services;
        var streams = services.GetRequiredService<IEventStreams>();
        var projection = SampleApp.Resolve(services, "ModularMonolith.Orders.SalesReportProjection");
        var rebuilt = SampleApp.Get<object>(projection, "Report");
        var live = SampleApp.Get<object>(SampleApp.Resolve(services, "ModularMonolith.Scenario.LiveSalesReport"), "Report");
        await PlaceAsync(services, harness, History);

        await SampleApp.InvokeAsync(projection, "StartAsync", CancellationToken.None);

        // The replay alone rebuilt the report of offsets 0-3, line for line the report kept live since the first order.
        SampleApp.Get<long>(rebuilt, "NextOffset").Should().Be(4);
        Lines(rebuilt).Should().Equal(
            new SalesLine("SKU-BOOK", 1, 1, 18.00m),
            new SalesLine("SKU-LAMP", 1, 1, 39.90m),
            new SalesLine("SKU-MUG", 2, 6, 75.00m));
        Lines(live).Should().Equal(Lines(rebuilt));

        // A replay is no group and commits nothing: the only group is the one that took over, at the offset the replay ended at.
        streams.GetStreamInfo<OrderPlaced>().Groups.Select(g => (g.Subscription, g.CommittedOffset, g.State)).Should().Equal((SalesReportGroup, (long?)4, SubscriptionState.Running));
        GroupDeliveries(harness, SalesReportGroup).Should().BeEmpty();

        await PlaceAsync(services, harness, Later);

        // The group applied the later orders and nothing the replay had applied: each once, in offset order.
        GroupDeliveries(harness, SalesReportGroup).Should().Equal(4L, 5L, 6L);
        SampleApp.Get<long>(rebuilt, "NextOffset").Should().Be(7);
        Lines(rebuilt).Should().Equal(
            new SalesLine("SKU-BOOK", 2, 3, 54.00m),
            new SalesLine("SKU-LAMP", 2, 2, 79.80m),
            new SalesLine("SKU-MUG", 3, 7, 87.50m));
        Lines(live).Should().Equal(Lines(rebuilt));
    }

    [Fact]
    public async Task Invoicing_StoppedWhileOrdersArePlacedThenStartedAgain_ResumesAtItsCommittedOffsetAndInvoicesEveryOrderOnceInOrder()
    {
        var (services, harness) = await SampleApp.StartAsync();
        await using var _ = services;
        var streams = services.GetRequiredService<IEventStreams>();
        var invoicing = SampleApp.Resolve(services, "ModularMonolith.Payments.InvoicingGroup");
        var ledger = SampleApp.Resolve(services, "ModularMonolith.Payments.InvoiceLedger");
        await SampleApp.InvokeAsync(invoicing, "StartAsync", CancellationToken.None);
        await PlaceAsync(services, harness, History);

        await SampleApp.InvokeAsync(invoicing, "StopAsync");

        Invoicing(streams).Should().Be((4L, 0L, SubscriptionState.Stopped), "stopping commits what the group handled: offsets 0-3");

        await PlaceAsync(services, harness, Later);

        Invoicing(streams).Should().Be((4L, 3L, SubscriptionState.Stopped), "the orders placed while it is stopped wait in the stream");
        GroupDeliveries(harness, InvoicingGroup).Should().Equal(0L, 1L, 2L, 3L);

        await SampleApp.InvokeAsync(invoicing, "StartAsync", CancellationToken.None);
        await harness.WaitForIdleAsync();

        // Every order once, in offset order; the deliveries after the restart begin at the committed offset, 4.
        GroupDeliveries(harness, InvoicingGroup).Should().Equal(0L, 1L, 2L, 3L, 4L, 5L, 6L);
        GroupDeliveries(harness, InvoicingGroup).Skip(4).First().Should().Be(4L);
        SampleApp.Get<IReadOnlyList<long>>(ledger, "Offsets").Should().Equal(0L, 1L, 2L, 3L, 4L, 5L, 6L);
        SampleApp.Get<IReadOnlyList<Invoice>>(ledger, "Invoices").Should().Equal(
            new Invoice("INV-0001", 1001, 25.00m),
            new Invoice("INV-0002", 1002, 39.90m),
            new Invoice("INV-0003", 1004, 18.00m),
            new Invoice("INV-0004", 1005, 50.00m),
            new Invoice("INV-0005", 1006, 36.00m),
            new Invoice("INV-0006", 1007, 12.50m),
            new Invoice("INV-0007", 1008, 39.90m));

        // Stopped again, it has committed past the last order (a stop flushes the commit; at idle it may still be in progress).
        await SampleApp.InvokeAsync(invoicing, "StopAsync");
        Invoicing(streams).Should().Be((7L, 0L, SubscriptionState.Stopped));
    }

    /// <summary>Sends the orders one by one, as the storefront does, and waits until every flow they start has finished.</summary>
    private static async Task PlaceAsync(ServiceProvider services, EventBusTestHarness harness, PlaceOrder[] orders)
    {
        var commands = services.GetRequiredService<ICommandBus>();
        foreach (var order in orders)
        {
            await commands.SendAsync(order);
        }

        await harness.WaitForIdleAsync();
    }

    private static IReadOnlyList<SalesLine> Lines(object salesReport) => SampleApp.Get<IReadOnlyList<SalesLine>>(salesReport, "Lines");

    /// <summary>The offsets a consumer group handled, in the order it handled them.</summary>
    private static List<long?> GroupDeliveries(EventBusTestHarness harness, string group) =>
        harness.Handled<OrderPlaced>().Where(c => c.Context.Subscription == group).Select(c => c.Context.Offset).ToList();

    /// <summary>The invoicing group's committed offset, lag and state, as the stream reports them.</summary>
    private static (long CommittedOffset, long Lag, SubscriptionState State) Invoicing(IEventStreams streams)
    {
        var group = streams.GetStreamInfo<OrderPlaced>().Groups.Single(g => g.Subscription == InvoicingGroup);
        return (group.CommittedOffset!.Value, group.Lag!.Value, group.State);
    }
}
