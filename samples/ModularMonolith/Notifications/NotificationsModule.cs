using Microsoft.Extensions.DependencyInjection;

namespace ModularMonolith.Notifications;

/// <summary>Registers the Notifications module's own services. Its handlers are found by the bus's assembly scan.</summary>
internal static class NotificationsModule
{
    public static IServiceCollection AddNotificationsModule(this IServiceCollection services) => services.AddSingleton<MailServer>();
}
