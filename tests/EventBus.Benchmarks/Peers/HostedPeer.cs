using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBus.Benchmarks.Peers;

/// <summary>
/// The base of the peers that run in a generic host (Wolverine, MassTransit): it builds the host with logging off and the
/// <see cref="PeerSignals"/> registered as a singleton, starts it, and stops and disposes it.
/// </summary>
public abstract class HostedPeer : IAsyncDisposable
{
    private readonly IHost _host;

    /// <summary>Initializes a new instance of the <see cref="HostedPeer"/> class.</summary>
    /// <param name="host">The host started by <see cref="StartHostAsync"/>.</param>
    protected HostedPeer(IHost host)
    {
        _host = host;
        Signals = host.Services.GetRequiredService<PeerSignals>();
    }

    /// <summary>Gets the signals the peer's handlers count down.</summary>
    public PeerSignals Signals { get; }

    /// <summary>Stops and disposes the host.</summary>
    /// <returns>A task that completes when the host is disposed.</returns>
    public virtual async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Builds and starts a host.</summary>
    /// <param name="configure">Adds the peer to the builder; the signals are already registered.</param>
    /// <returns>The started host.</returns>
    protected static async Task<IHost> StartHostAsync(Action<HostApplicationBuilder> configure)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(new PeerSignals());
        configure(builder);

        var host = builder.Build();
        await host.StartAsync();
        return host;
    }
}
