using Microsoft.Extensions.DependencyInjection;

namespace ModularMonolith.Orders;

/// <summary>Registers the Orders module's own services. Its handlers are found by the bus's assembly scan.</summary>
internal static class OrdersModule
{
    public static IServiceCollection AddOrdersModule(this IServiceCollection services) =>
        services.AddSingleton<OrderBook>().AddSingleton<SalesReportProjection>();
}
