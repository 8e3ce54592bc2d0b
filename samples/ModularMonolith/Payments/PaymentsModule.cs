using Microsoft.Extensions.DependencyInjection;

namespace ModularMonolith.Payments;

/// <summary>Registers the Payments module's own services. Its handlers are found by the bus's assembly scan.</summary>
internal static class PaymentsModule
{
    public static IServiceCollection AddPaymentsModule(this IServiceCollection services) =>
        services.AddSingleton<InvoiceLedger>().AddSingleton<InvoicingGroup>();
}
