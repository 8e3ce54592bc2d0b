using Microsoft.Extensions.Hosting;

namespace EventBus.Hosting;

/// <summary>Starts the bus with the host and stops it, draining, when the host stops.</summary>
internal sealed class EventBusHostedService(EventBusRuntime bus) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => bus.StartAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => bus.StopAsync(cancellationToken);
}
