using System.Reflection;
using EventBus;
using EventBus.Testing;
using Microsoft.Extensions.DependencyInjection;
using ModularMonolith.Orders.Contracts;

namespace ModularMonolith.Tests;

/// <summary>
/// The sample's composition root (<c>samples/ModularMonolith/Program.cs</c>) rebuilt for tests: the same module registrations and
/// the same <c>AddEventBus</c> callback, plus <c>AddTestHarness()</c>, without the host and the scripted storefront.
/// </summary>
/// <remarks>
/// A module of the sample shows other code only its public <c>Contracts</c> records; its classes (handlers, state, the
/// <c>AddXxxModule()</c> extensions) are internal. The few internal entry points Program.cs calls are therefore reached here by
/// name: a rename in the sample fails these tests with the missing name rather than silently testing something else.
/// </remarks>
internal static class SampleApp
{
    /// <summary>The stock Program.cs starts with.</summary>
    public static readonly IReadOnlyDictionary<string, int> ProgramStock = new Dictionary<string, int> { ["SKU-MUG"] = 10, ["SKU-LAMP"] = 2, ["SKU-BOOK"] = 5 };

    private static readonly Assembly Sample = typeof(PlaceOrder).Assembly;

    /// <summary>Builds the sample's container: its modules and its bus, with the test harness unless <paramref name="withHarness"/> is false.</summary>
    /// <param name="stock">The initial stock; Program.cs's when null.</param>
    /// <param name="withHarness">Whether to add the test harness.</param>
    /// <param name="queueWorkers">Pins <see cref="EventBusOptions.QueueWorkers"/> (default: the processor count), or null to keep Program.cs's default.</param>
    public static ServiceProvider Build(IReadOnlyDictionary<string, int>? stock = null, bool withHarness = true, int? queueWorkers = null)
    {
        var services = new ServiceCollection();
        Call("ModularMonolith.Orders.OrdersModule", "AddOrdersModule", services);
        Call("ModularMonolith.Inventory.InventoryModule", "AddInventoryModule", services, stock ?? ProgramStock);
        Call("ModularMonolith.Payments.PaymentsModule", "AddPaymentsModule", services);
        Call("ModularMonolith.Notifications.NotificationsModule", "AddNotificationsModule", services);
        services.AddSingleton(SampleType("ModularMonolith.Scenario.ScenarioProgress"));
        services.AddSingleton(SampleType("ModularMonolith.Scenario.LiveSalesReport"));
        services.AddEventBus(bus =>
        {
            ConfigureBus(bus);
            if (queueWorkers is { } workers)
            {
                bus.Configure(o => o.QueueWorkers = workers);
            }

            if (withHarness)
            {
                bus.AddTestHarness();
            }
        });
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    /// <summary>Builds the sample's container with the harness and starts its bus.</summary>
    public static async Task<(ServiceProvider Services, EventBusTestHarness Harness)> StartAsync(IReadOnlyDictionary<string, int>? stock = null)
    {
        var services = Build(stock);
        var harness = services.GetRequiredService<EventBusTestHarness>();
        await services.GetRequiredService<IEventBusControl>().StartAsync();
        return (services, harness);
    }

    /// <summary>What Program.cs passes to <c>AddEventBus</c>.</summary>
    private static void ConfigureBus(EventBusBuilder bus)
    {
        bus.AddHandlersFromAssemblyContaining<PlaceOrder>(); // Program.cs: AddHandlersFromAssemblyContaining<Program>(), the same assembly
        CallGeneric(bus, nameof(EventBusBuilder.ConfigureSubscription), "ModularMonolith.Notifications.SendEmailHandler",
            (Action<SubscriptionOptions>)(o => { o.Mode = DeliveryMode.Queue; o.Workers = 3; }));
        bus.AddStream<OrderPlaced>(o => o.MaxCount = 10_000);
        CallGeneric(bus, nameof(EventBusBuilder.UseMiddleware), "ModularMonolith.Scenario.FlowRecorder", ServiceLifetime.Singleton);
    }

    /// <summary>Resolves the sample's internal service <paramref name="typeName"/> (a full type name).</summary>
    public static object Resolve(IServiceProvider services, string typeName) => services.GetRequiredService(SampleType(typeName));

    /// <summary>Reads the property <paramref name="property"/> of one of the sample's internal objects.</summary>
    public static T Get<T>(object target, string property)
    {
        var getter = target.GetType().GetProperty(property, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            ?? throw new InvalidOperationException($"The sample's '{target.GetType().FullName}' has no property '{property}'; update the tests to match the sample.");
        return (T)getter.GetValue(target)!;
    }

    /// <summary>Calls the <see cref="Task"/>-returning method <paramref name="method"/> of one of the sample's internal objects.</summary>
    public static Task InvokeAsync(object target, string method, params object[] arguments)
    {
        var call = target.GetType().GetMethod(method, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance)
            ?? throw new InvalidOperationException($"The sample's '{target.GetType().FullName}' has no method '{method}'; update the tests to match the sample.");
        return (Task)call.Invoke(target, arguments)!;
    }

    private static Type SampleType(string fullName) =>
        Sample.GetType(fullName) ?? throw new InvalidOperationException($"The sample has no type '{fullName}'; update SampleApp to match Program.cs.");

    private static void Call(string typeName, string method, params object[] arguments)
    {
        var target = SampleType(typeName).GetMethod(method, BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static)
            ?? throw new InvalidOperationException($"The sample's '{typeName}' has no static method '{method}'; update SampleApp to match Program.cs.");
        target.Invoke(null, arguments);
    }

    private static void CallGeneric(EventBusBuilder bus, string method, string typeArgument, object argument)
    {
        var generic = typeof(EventBusBuilder).GetMethods().Single(m => m.Name == method && m.IsGenericMethodDefinition && m.GetGenericArguments().Length == 1);
        generic.MakeGenericMethod(SampleType(typeArgument)).Invoke(bus, [argument]);
    }
}
