using EventBus.Tests.Infrastructure;
using EventBus.Tests.ScanFixtures;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Hosting;

/// <summary>
/// <see cref="EventBusBuilder.AddHandlersFromAssembly"/>. The scanned handlers live in their own assembly
/// (EventBus.Tests.ScanFixtures): scanning this test assembly would register every handler of every test.
/// </summary>
public sealed class AssemblyScanTests
{
    [Fact]
    public async Task AddHandlersFromAssembly_FindsEventAndCommandHandlers()
    {
        await using var bus = await TestBus.StartAsync(
            b => b.AddHandlersFromAssembly(typeof(ScanLog).Assembly),
            s => s.AddSingleton<ScanLog>());
        var log = bus.Get<ScanLog>();

        (await bus.Commands.SendAsync(new ReserveStock("SKU-1", 3))).Value.Should().Be(3);
        (await bus.Commands.SendAsync(new ReserveStock("SKU-1", 30))).Rejection!.Reason.Should().Be("Only 10 units of SKU-1 are in stock.");
        (await bus.Commands.SendAsync(new ReleaseStock("SKU-1"))).IsAccepted.Should().BeTrue();
        await bus.Bus.PublishAsync(new StockAdjusted("SKU-2", 5));
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        log.Entries.Take(3).Should().Equal("ReserveStockHandler SKU-1 3", "ReserveStockHandler SKU-1 30", "ReleaseStockHandler SKU-1");
        log.Entries.Skip(3).Should().BeEquivalentTo("StockAdjustedHandler SKU-2 5", "InventoryAuditHandler SKU-2");
        bus.Control.GetSnapshot().Where(s => s.Topic == typeof(StockAdjusted).FullName).Select(s => s.Subscription).Should().BeEquivalentTo(
            [typeof(StockAdjustedHandler).FullName, typeof(InventoryAuditHandler).FullName],
            "abstract and open generic handlers are skipped, and a handler of both the event and its interface is subscribed once");
    }

    [Fact]
    public async Task AddHandlersFromAssembly_AndExplicitRegistration_RegistersHandlerOnce()
    {
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<StockAdjusted, StockAdjustedHandler>().AddHandlersFromAssembly(typeof(ScanLog).Assembly),
            s => s.AddSingleton<ScanLog>());

        await bus.Bus.PublishAsync(new StockAdjusted("SKU-1", 1));
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        bus.Get<ScanLog>().Entries.Count(e => e.StartsWith("StockAdjustedHandler", StringComparison.Ordinal)).Should().Be(1);
    }

    [Fact]
    public void AddHandlersFromAssembly_Lifetime_AppliesToEveryHandlerFound()
    {
        var services = new ServiceCollection();

        services.AddEventBus(b => b.AddHandlersFromAssemblyContaining<ScanLog>(ServiceLifetime.Singleton));

        services.Where(d => d.ServiceType.Assembly == typeof(ScanLog).Assembly).Should().HaveCount(4)
            .And.OnlyContain(d => d.Lifetime == ServiceLifetime.Singleton);
    }

    [Fact]
    public void AddHandlersFromAssembly_NullAssembly_ThrowsArgumentNullException()
    {
        var services = new ServiceCollection();

        var add = () => services.AddEventBus(b => b.AddHandlersFromAssembly(null!));

        add.Should().Throw<ArgumentNullException>();
    }
}
