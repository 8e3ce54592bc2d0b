using EventBus;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModularMonolith.Inventory;
using ModularMonolith.Notifications;
using ModularMonolith.Orders;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Payments;
using ModularMonolith.Scenario;
using ModularMonolith.Shared;

// Four modules (Orders, Inventory, Payments, Notifications) that know each other only through the contract records in
// their Contracts folders, wired together by the bus. Program.cs is the composition root and the "storefront".
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning); // keep the framework quiet: the modules' trace is the output

builder.Services
    .AddOrdersModule()
    .AddInventoryModule(new Dictionary<string, int> { ["SKU-MUG"] = 10, ["SKU-LAMP"] = 2, ["SKU-BOOK"] = 5 })
    .AddPaymentsModule()
    .AddNotificationsModule()
    .AddSingleton<ScenarioProgress>()
    .AddSingleton<LiveSalesReport>();

builder.Services.AddEventBus(bus => bus
    .AddHandlersFromAssemblyContaining<Program>() // every module's handlers, found by assembly scan
    .ConfigureSubscription<SendEmailHandler>(o => { o.Mode = DeliveryMode.Queue; o.Workers = 3; }) // the mail queue: 3 competing workers
    .AddStream<OrderPlaced>(o => o.MaxCount = 10_000) // OrderPlaced is also kept in an ordered log: the sales report and invoicing read it
    .UseMiddleware<FlowRecorder>(ServiceLifetime.Singleton)); // sees every message; draws the causation tree at the end

using var host = builder.Build();
await host.StartAsync(); // the bus starts with the host (it is a hosted service)

var streams = host.Services.GetRequiredService<IEventStreams>();
var progress = host.Services.GetRequiredService<ScenarioProgress>();
var invoicing = host.Services.GetRequiredService<InvoicingGroup>();
var ledger = host.Services.GetRequiredService<InvoiceLedger>();
var timeout = TimeSpan.FromSeconds(30);
var expectedEmails = 0;

// Payments' invoicing is a consumer group on the OrderPlaced stream: it reads at its own pace and commits its offset.
await invoicing.StartAsync();

// The storefront sends five orders; order 1003 asks for more lamps than are left.
expectedEmails += await PlaceOrdersAsync(
[
    new(1001, "alice@example.com", "SKU-MUG", 2, 12.50m),
    new(1002, "bob@example.com", "SKU-LAMP", 1, 39.90m),
    new(1003, "carol@example.com", "SKU-LAMP", 3, 39.90m),
    new(1004, "dave@example.com", "SKU-BOOK", 1, 18.00m),
    new(1005, "erin@example.com", "SKU-MUG", 4, 12.50m),
]);

// Wait for the signal, not for a guess: every flow ends with emails (2 per accepted order, 1 per refused one).
await progress.WaitForEmailsAsync(expectedEmails, timeout);
await ledger.WaitForOffsetAsync(Head(), timeout); // and for invoicing to catch up with the stream's head, so that it stops below with a lag of 0

// The sales report is rebuilt from the stream. In a real deployment this runs at start-up against a durable stream; this one is in
// memory, so the orders above are the history it is rebuilt from. The report kept live since the first order must be the same.
Console.WriteLine();
var sales = host.Services.GetRequiredService<SalesReportProjection>();
await sales.StartAsync();
await CompareSalesReportsAsync();

// Invoicing is stopped (say, for maintenance) while three more orders come in: the stream keeps them for it.
Console.WriteLine();
await invoicing.StopAsync();
expectedEmails += await PlaceOrdersAsync(
[
    new(1006, "frank@example.com", "SKU-BOOK", 2, 18.00m),
    new(1007, "grace@example.com", "SKU-MUG", 1, 12.50m),
    new(1008, "heidi@example.com", "SKU-LAMP", 1, 39.90m),
]);
await progress.WaitForEmailsAsync(expectedEmails, timeout);

// Started again under the same name, the group resumes at its committed offset: the invoices go on without a gap or a repeat.
Console.WriteLine();
await invoicing.StartAsync();
await ledger.WaitForOffsetAsync(Head(), timeout);
var everyOffsetOnce = ledger.Offsets.SequenceEqual(Enumerable.Range(0, (int)Head()).Select(i => (long)i));
Trace.Write("Payments", $"{ledger.Invoices.Count} invoices for offsets {string.Join(", ", ledger.Offsets)}: " +
    (everyOffsetOnce ? "every order once, in offset order" : "NOT every order once, in order"));
await CompareSalesReportsAsync();

// Stop the bus first (it drains whatever is still finishing) so that the counters below are final.
var control = host.Services.GetRequiredService<IEventBusControl>();
var report = await control.StopAsync();
Console.WriteLine();
Console.WriteLine($"Bus stopped: drained = {report.Drained}, unfinished = {report.Unfinished.Count}. Subscriptions and consumer groups (IEventBusControl.GetSnapshot()):");
Console.WriteLine($"  {"topic",-16}{"subscription or group",-42}{"mode",-10}{"workers",8}{"delivered",10}{"succeeded",10}{"failed",7}");
foreach (var s in control.GetSnapshot())
{
    Console.WriteLine($"  {TypeName(s.Topic),-16}{s.Subscription.Replace("ModularMonolith.", "", StringComparison.Ordinal),-42}{s.Mode,-10}{s.Workers,8}{s.Delivered,10}{s.Succeeded,10}{s.Failed,7}");
}

var stream = streams.GetStreamInfo<OrderPlaced>();
Console.WriteLine();
Console.WriteLine($"Stream {TypeName(stream.Topic)} (IEventStreams.GetStreamInfo()): {stream.RetainedCount} events retained, offsets {stream.FirstOffset}-{stream.NextOffset - 1}. Consumer groups:");
Console.WriteLine($"  {"group",-16}{"committed offset",18}{"lag",6}");
foreach (var g in stream.Groups)
{
    Console.WriteLine($"  {g.Subscription,-16}{g.CommittedOffset,18}{g.Lag,6}");
}

Console.WriteLine();
host.Services.GetRequiredService<FlowRecorder>().WriteTree("order-1001");

await host.StopAsync(); // the host stops the bus too; it is already stopped, so this returns at once
return 0;

// Sends the orders one by one; returns how many emails their flows will send (2 per accepted order, 1 per refused one).
async Task<int> PlaceOrdersAsync(PlaceOrder[] orders)
{
    var commands = host.Services.GetRequiredService<ICommandBus>();
    var accepted = 0;
    var refused = new List<string>();
    Trace.Write("Store", $"sending {orders.Length} PlaceOrder commands (right-hand column: the flow's correlation id)");
    foreach (var order in orders)
    {
        var result = await commands.SendAsync(order);
        if (result.IsAccepted)
        {
            accepted++;
        }
        else
        {
            refused.Add($"{order.OrderId} ({result.Rejection.Code})");
        }
    }

    Trace.Write("Store", refused.Count == 0
        ? $"{accepted} orders accepted"
        : $"{accepted} orders accepted, {refused.Count} refused: {string.Join(", ", refused)}");
    return accepted * 2 + refused.Count;
}

// Prints the report rebuilt from the stream next to the live one, once both include every order placed so far.
async Task CompareSalesReportsAsync()
{
    var head = Head();
    var live = host.Services.GetRequiredService<LiveSalesReport>().Report;
    await sales.Report.WaitForOffsetAsync(head, timeout);
    await live.WaitForOffsetAsync(head, timeout);
    Trace.Write("Orders", $"sales report with every order up to offset {head - 1} (per SKU: orders/units/revenue):");
    Trace.Write("Orders", $"  rebuilt from the stream:     {sales.Report}");
    Trace.Write("Scenario", $"  live since the first order:  {live}");
    Trace.Write("Scenario", $"  equal: {sales.Report.Lines.SequenceEqual(live.Lines)}");
}

long Head() => streams.GetStreamInfo<OrderPlaced>().NextOffset;

static string TypeName(string fullName) => fullName[(fullName.LastIndexOf('.') + 1)..];
