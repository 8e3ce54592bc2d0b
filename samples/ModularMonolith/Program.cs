using EventBus;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using ModularMonolith.Inventory;
using ModularMonolith.Notifications;
using ModularMonolith.Orders;
using ModularMonolith.Orders.Contracts;
using ModularMonolith.Scenario;
using ModularMonolith.Shared;

// Four modules (Orders, Inventory, Payments, Notifications) that know each other only through the contract records in
// their Contracts folders, wired together by the bus. Program.cs is the composition root and the "storefront".
var builder = Host.CreateApplicationBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning); // keep the framework quiet: the modules' trace is the output

builder.Services
    .AddOrdersModule()
    .AddInventoryModule(new Dictionary<string, int> { ["SKU-MUG"] = 10, ["SKU-LAMP"] = 2, ["SKU-BOOK"] = 5 })
    .AddNotificationsModule()
    .AddSingleton<ScenarioProgress>();

builder.Services.AddEventBus(bus => bus
    .AddHandlersFromAssemblyContaining<Program>() // every module's handlers, found by assembly scan
    .ConfigureSubscription<SendEmailHandler>(o => { o.Mode = DeliveryMode.Queue; o.Workers = 3; }) // the mail queue: 3 competing workers
    .UseMiddleware<FlowRecorder>(ServiceLifetime.Singleton)); // sees every message; draws the causation tree at the end

using var host = builder.Build();
await host.StartAsync(); // the bus starts with the host (it is a hosted service)

// The storefront sends five orders; order 1003 asks for more lamps than are left.
PlaceOrder[] orders =
[
    new(1001, "alice@example.com", "SKU-MUG", 2, 12.50m),
    new(1002, "bob@example.com", "SKU-LAMP", 1, 39.90m),
    new(1003, "carol@example.com", "SKU-LAMP", 3, 39.90m),
    new(1004, "dave@example.com", "SKU-BOOK", 1, 18.00m),
    new(1005, "erin@example.com", "SKU-MUG", 4, 12.50m),
];
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

Trace.Write("Store", $"{accepted} orders accepted, {refused.Count} refused: {string.Join(", ", refused)}");

// Wait for the signal, not for a guess: every flow ends with emails (2 per accepted order, 1 per refused one).
await host.Services.GetRequiredService<ScenarioProgress>().WaitForEmailsAsync(accepted * 2 + refused.Count, TimeSpan.FromSeconds(30));

// Stop the bus first (it drains whatever is still finishing) so that the counters below are final.
var control = host.Services.GetRequiredService<IEventBusControl>();
var report = await control.StopAsync();
Console.WriteLine();
Console.WriteLine($"Bus stopped: drained = {report.Drained}, unfinished = {report.Unfinished.Count}. Subscriptions (IEventBusControl.GetSnapshot()):");
Console.WriteLine($"  {"topic",-16}{"subscription",-42}{"mode",-10}{"workers",8}{"delivered",10}{"succeeded",10}{"failed",7}");
foreach (var s in control.GetSnapshot())
{
    Console.WriteLine($"  {TypeName(s.Topic),-16}{s.Subscription.Replace("ModularMonolith.", "", StringComparison.Ordinal),-42}{s.Mode,-10}{s.Workers,8}{s.Delivered,10}{s.Succeeded,10}{s.Failed,7}");
}

Console.WriteLine();
host.Services.GetRequiredService<FlowRecorder>().WriteTree("order-1001");

await host.StopAsync(); // the host stops the bus too; it is already stopped, so this returns at once
return 0;

static string TypeName(string fullName) => fullName[(fullName.LastIndexOf('.') + 1)..];
