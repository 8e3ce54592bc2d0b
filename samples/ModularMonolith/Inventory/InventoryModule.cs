using Microsoft.Extensions.DependencyInjection;

namespace ModularMonolith.Inventory;

/// <summary>Registers the Inventory module's own services. Its handlers are found by the bus's assembly scan.</summary>
internal static class InventoryModule
{
    public static IServiceCollection AddInventoryModule(this IServiceCollection services, IReadOnlyDictionary<string, int> initialStock) =>
        services.AddSingleton(new StockLedger(initialStock));
}
