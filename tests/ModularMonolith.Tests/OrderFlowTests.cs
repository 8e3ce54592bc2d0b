using EventBus;
using EventBus.Testing;
using Microsoft.Extensions.DependencyInjection;
using ModularMonolith.Notifications.Contracts;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Payments.Contracts;

namespace ModularMonolith.Tests;

/// <summary>
/// The sample's order flows end to end, through the test harness: send <see cref="PlaceOrder"/>, wait until the bus is idle (every
/// cascade: payment, confirmation, e-mails through the 3-worker mail queue), then read what was published and handled. No sleeps.
/// </summary>
public sealed class OrderFlowTests
{
    private const string PickStock = "ModularMonolith.Inventory.PickStockWhenOrderPlaced";
    private const string CapturePayment = "ModularMonolith.Payments.CapturePaymentWhenOrderPlaced";
    private const string EmailCustomers = "ModularMonolith.Notifications.EmailCustomers";
    private const string ConfirmOrder = "ModularMonolith.Orders.ConfirmOrderWhenPaid";
    private const string SendEmailHandler = "ModularMonolith.Notifications.SendEmailHandler";
    private const string CountSentEmails = "ModularMonolith.Scenario.CountSentEmails";
    private const string UpdateLiveSalesReport = "ModularMonolith.Scenario.UpdateLiveSalesReport";

    [Fact]
    public async Task PlaceOrder_InStock_OrderPlacedThenPaidConfirmedAndTheCustomerEmailedTwice()
    {
        var (services, harness) = await SampleApp.StartAsync();
        await using var _ = services;

        var result = await services.GetRequiredService<ICommandBus>().SendAsync(new PlaceOrder(1001, "alice@example.com", "SKU-MUG", 2, 12.50m));
        await harness.WaitForIdleAsync();

        result.IsAccepted.Should().BeTrue();
        result.Value.Should().Be(new OrderReceipt(1001, 25.00m));
        harness.Published<OrderPlaced>().Select(c => c.Message).Should().Equal(new OrderPlaced(1001, "alice@example.com", "SKU-MUG", 2, 25.00m, "R-1001"));
        harness.Handled<OrderPlaced>().Select(c => c.Context.Subscription).Should().BeEquivalentTo([PickStock, CapturePayment, EmailCustomers, UpdateLiveSalesReport]);
        harness.Published<PaymentCaptured>().Select(c => c.Message).Should().Equal(new PaymentCaptured(1001, 25.00m, "PAY-1001"));
        harness.Handled<PaymentCaptured>().Select(c => c.Context.Subscription).Should().Equal(ConfirmOrder);
        harness.Published<OrderConfirmed>().Select(c => c.Message).Should().Equal(new OrderConfirmed(1001, "alice@example.com", "PAY-1001"));
        harness.Handled<OrderConfirmed>().Select(c => c.Context.Subscription).Should().Equal(EmailCustomers);
        harness.Published<SendEmail>().Select(c => c.Message).Should().BeEquivalentTo(
            [new SendEmail("alice@example.com", "Order 1001 received"), new SendEmail("alice@example.com", "Order 1001 confirmed")]);
        harness.Handled<SendEmail>().Should().HaveCount(2).And.OnlyContain(c => c.Context.Subscription == SendEmailHandler);
        harness.Published<EmailSent>().Select(c => c.Message).Should().BeEquivalentTo(
            [new EmailSent("alice@example.com", "Order 1001 received"), new EmailSent("alice@example.com", "Order 1001 confirmed")]);
        harness.Handled<EmailSent>().Should().HaveCount(2).And.OnlyContain(c => c.Context.Subscription == CountSentEmails);
        harness.Published<OrderRejected>().Should().BeEmpty();
        harness.Failed<object>().Should().BeEmpty();
        harness.Undelivered().Should().BeEmpty();
    }

    [Fact]
    public async Task PlaceOrder_BeyondStock_RejectedWithTheReasonTheCustomerEmailedAndNothingReserved()
    {
        var (services, harness) = await SampleApp.StartAsync(new Dictionary<string, int> { ["SKU-LAMP"] = 2 });
        await using var _ = services;
        var commands = services.GetRequiredService<ICommandBus>();

        var refused = await commands.SendAsync(new PlaceOrder(1003, "carol@example.com", "SKU-LAMP", 3, 39.90m));
        await harness.WaitForIdleAsync();

        refused.IsAccepted.Should().BeFalse();
        refused.Rejection!.Code.Should().Be("insufficient-stock");
        refused.Rejection.Reason.Should().Be("only 2 x SKU-LAMP available, 3 ordered");
        harness.Published<OrderRejected>().Select(c => c.Message).Should().Equal(new OrderRejected(1003, "carol@example.com", "only 2 x SKU-LAMP available, 3 ordered"));
        harness.Handled<OrderRejected>().Select(c => c.Context.Subscription).Should().Equal(EmailCustomers);
        harness.Published<OrderPlaced>().Should().BeEmpty();
        harness.Published<PaymentCaptured>().Should().BeEmpty();
        harness.Published<SendEmail>().Select(c => c.Message).Should().Equal(new SendEmail("carol@example.com", "Order 1003 refused"));
        harness.Handled<EmailSent>().Select(c => c.Message).Should().Equal(new EmailSent("carol@example.com", "Order 1003 refused"));

        // The refused order reserved nothing: both lamps can still be ordered.
        (await commands.SendAsync(new PlaceOrder(1004, "dave@example.com", "SKU-LAMP", 2, 39.90m))).IsAccepted.Should().BeTrue();
        await harness.WaitForIdleAsync();
        harness.Published<OrderPlaced>().Select(c => c.Message.OrderId).Should().Equal(1004);
    }

    [Fact]
    public async Task PlaceOrder_Cascade_CorrelationIdAndCausationChainFlowThroughEveryMessage()
    {
        var (services, harness) = await SampleApp.StartAsync();
        await using var _ = services;
        var placeOrderId = MessageId.NewId(TimeProvider.System);

        var result = await services.GetRequiredService<ICommandBus>().SendAsync(
            new PlaceOrder(1001, "alice@example.com", "SKU-MUG", 2, 12.50m), new PublishOptions { MessageId = placeOrderId });
        await harness.WaitForIdleAsync();

        result.IsAccepted.Should().BeTrue();
        var placed = harness.Published<OrderPlaced>().Single().Context;
        var paid = harness.Published<PaymentCaptured>().Single().Context;
        var confirmed = harness.Published<OrderConfirmed>().Single().Context;
        var emails = harness.Published<SendEmail>().ToDictionary(c => c.Message.Subject, c => c.Context);
        var sent = harness.Published<EmailSent>().ToDictionary(c => c.Message.Subject, c => c.Context);
        MessageContext[] flow = [placed, paid, confirmed, .. emails.Values, .. sent.Values];
        flow.Should().HaveCount(7).And.OnlyContain(c => c.CorrelationId == "order-1001");

        placed.CausationId.Should().Be(placeOrderId.ToString(), "OrderPlaced was caused by the PlaceOrder command");
        paid.CausationId.Should().Be(placed.MessageId.ToString());
        confirmed.CausationId.Should().Be(paid.MessageId.ToString());
        emails["Order 1001 received"].CausationId.Should().Be(placed.MessageId.ToString());
        emails["Order 1001 confirmed"].CausationId.Should().Be(confirmed.MessageId.ToString());
        sent["Order 1001 received"].CausationId.Should().Be(emails["Order 1001 received"].MessageId.ToString());
        sent["Order 1001 confirmed"].CausationId.Should().Be(emails["Order 1001 confirmed"].MessageId.ToString());
        harness.Handled<object>().Should().OnlyContain(c => c.Context.CorrelationId == "order-1001", "every delivery carries the flow's correlation id");
    }

    [Fact]
    public async Task ProgramScenario_EightOrders_SevenAcceptedOneRefusedFifteenEmailsAndTheSnapshotOfTheReadme()
    {
        var (services, harness) = await SampleApp.StartAsync();
        await using var _ = services;
        var commands = services.GetRequiredService<ICommandBus>();
        PlaceOrder[] orders =
        [
            new(1001, "alice@example.com", "SKU-MUG", 2, 12.50m),
            new(1002, "bob@example.com", "SKU-LAMP", 1, 39.90m),
            new(1003, "carol@example.com", "SKU-LAMP", 3, 39.90m),
            new(1004, "dave@example.com", "SKU-BOOK", 1, 18.00m),
            new(1005, "erin@example.com", "SKU-MUG", 4, 12.50m),
            new(1006, "frank@example.com", "SKU-BOOK", 2, 18.00m), // Program.cs sends the last three after the sales report's rebuild
            new(1007, "grace@example.com", "SKU-MUG", 1, 12.50m),
            new(1008, "heidi@example.com", "SKU-LAMP", 1, 39.90m),
        ];

        var results = new List<(int OrderId, CommandResult<OrderReceipt> Result)>();
        foreach (var order in orders)
        {
            results.Add((order.OrderId, await commands.SendAsync(order)));
        }

        await harness.WaitForIdleAsync();

        results.Where(r => r.Result.IsAccepted).Select(r => r.OrderId).Should().Equal(1001, 1002, 1004, 1005, 1006, 1007, 1008);
        var refusal = results.Single(r => !r.Result.IsAccepted);
        (refusal.OrderId, refusal.Result.Rejection!.Code, refusal.Result.Rejection.Reason).Should().Be((1003, "insufficient-stock", "only 1 x SKU-LAMP available, 3 ordered"));
        harness.Published<EmailSent>().Should().HaveCount(15);

        // Each message belongs to the flow of the order it names.
        harness.Published<OrderPlaced>().Should().OnlyContain(c => c.Context.CorrelationId == $"order-{c.Message.OrderId}");
        harness.Published<PaymentCaptured>().Should().OnlyContain(c => c.Context.CorrelationId == $"order-{c.Message.OrderId}");
        harness.Published<OrderConfirmed>().Should().OnlyContain(c => c.Context.CorrelationId == $"order-{c.Message.OrderId}");
        harness.Published<OrderRejected>().Should().OnlyContain(c => c.Context.CorrelationId == $"order-{c.Message.OrderId}");
        harness.Published<SendEmail>().Should().OnlyContain(c => $"order-{c.Message.Subject.Split(' ', StringSplitOptions.None)[1]}" == c.Context.CorrelationId);

        // OrderPlaced is a stream: the accepted orders have the dense offsets 0 to 6, in the order they were placed.
        harness.Published<OrderPlaced>().Select(c => (c.Message.OrderId, c.Context.Offset)).Should().Equal(
            (1001, 0L), (1002, 1L), (1004, 2L), (1005, 3L), (1006, 4L), (1007, 5L), (1008, 6L));

        // The figures the sample's README prints (topic, subscription, mode, workers, delivered, succeeded, failed); final at idle.
        // No consumer group runs in this scenario (Program.cs starts them), so the snapshot lists the subscriptions only.
        harness.Control.GetSnapshot()
            .Select(s => $"{s.Topic[(s.Topic.LastIndexOf('.') + 1)..]} | {s.Subscription["ModularMonolith.".Length..]} | {s.Mode} | {s.Workers} | {s.Delivered} | {s.Succeeded} | {s.Failed}")
            .Should().Equal(
                "EmailSent | Scenario.CountSentEmails | Broadcast | 1 | 15 | 15 | 0",
                "SendEmail | Notifications.SendEmailHandler | Queue | 3 | 15 | 15 | 0",
                "OrderConfirmed | Notifications.EmailCustomers | Broadcast | 1 | 7 | 7 | 0",
                "OrderPlaced | Inventory.PickStockWhenOrderPlaced | Broadcast | 1 | 7 | 7 | 0",
                "OrderPlaced | Notifications.EmailCustomers | Broadcast | 1 | 7 | 7 | 0",
                "OrderPlaced | Payments.CapturePaymentWhenOrderPlaced | Broadcast | 1 | 7 | 7 | 0",
                "OrderPlaced | Scenario.UpdateLiveSalesReport | Broadcast | 1 | 7 | 7 | 0",
                "OrderRejected | Notifications.EmailCustomers | Broadcast | 1 | 1 | 1 | 0",
                "PaymentCaptured | Orders.ConfirmOrderWhenPaid | Broadcast | 1 | 7 | 7 | 0");
    }
}
