using EventBus.Benchmarks.Infrastructure;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace EventBus.Benchmarks.Peers;

/// <summary>The MassTransit event consumer.</summary>
/// <param name="signals">The signal to count down.</param>
public sealed class MassTransitEventConsumer(PeerSignals signals) : IConsumer<BenchEvent>
{
    /// <inheritdoc />
    public Task Consume(ConsumeContext<BenchEvent> context)
    {
        signals.Events.Signal();
        return Task.CompletedTask;
    }
}

/// <summary>The MassTransit command consumer: responds with <c>Value + 1</c>.</summary>
public sealed class MassTransitCommandConsumer : IConsumer<BenchCommand>
{
    /// <inheritdoc />
    public Task Consume(ConsumeContext<BenchCommand> context) =>
        context.RespondAsync(new BenchReply(BenchCommandHandler.Handle(context.Message)));
}

/// <summary>
/// MassTransit 8.5.12 (Apache-2.0; 9 and later need a paid licence) on its in-memory transport, in a generic host: events
/// published to a receive endpoint with one consumer at a time (like the single reader of the baseline); commands through
/// a request client (request/response over the in-memory transport).
/// </summary>
public sealed class MassTransitPeer : IAsyncDisposable
{
    private readonly IHost _host;
    private readonly IServiceScope _scope;

    private MassTransitPeer(IHost host, PeerSignals signals)
    {
        _host = host;
        Signals = signals;
        Bus = host.Services.GetRequiredService<IBus>();

        // The request client is scoped: one scope for the whole run, as a long-lived client would have.
        _scope = host.Services.CreateScope();
        Requests = _scope.ServiceProvider.GetRequiredService<IRequestClient<BenchCommand>>();
    }

    /// <summary>Gets the bus to publish with.</summary>
    public IBus Bus { get; }

    /// <summary>Gets the request client of the command.</summary>
    public IRequestClient<BenchCommand> Requests { get; }

    /// <summary>Gets the signals its consumers count down.</summary>
    public PeerSignals Signals { get; }

    /// <summary>Builds and starts the host (and with it the bus).</summary>
    /// <returns>The started peer.</returns>
    public static async Task<MassTransitPeer> StartAsync()
    {
        var signals = new PeerSignals();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(signals);
        builder.Services.AddMassTransit(bus =>
        {
            bus.AddConsumer<MassTransitEventConsumer>();
            bus.AddConsumer<MassTransitCommandConsumer>();
            bus.AddRequestClient<BenchCommand>();
            bus.UsingInMemory((context, transport) =>
            {
                transport.ReceiveEndpoint("bench-events", endpoint =>
                {
                    endpoint.ConcurrentMessageLimit = 1;
                    endpoint.ConfigureConsumer<MassTransitEventConsumer>(context);
                });
                transport.ReceiveEndpoint("bench-commands", endpoint => endpoint.ConfigureConsumer<MassTransitCommandConsumer>(context));
            });
        });

        var host = builder.Build();
        await host.StartAsync();
        return new MassTransitPeer(host, signals);
    }

    /// <summary>Stops and disposes the host.</summary>
    /// <returns>A task that completes when the host is disposed.</returns>
    public async ValueTask DisposeAsync()
    {
        _scope.Dispose();
        await _host.StopAsync();
        _host.Dispose();
    }
}
