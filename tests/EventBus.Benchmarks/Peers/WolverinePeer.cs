using EventBus.Benchmarks.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Wolverine;

namespace EventBus.Benchmarks.Peers;

/// <summary>The Wolverine event handler (found by explicit discovery, resolved with its singleton dependency).</summary>
/// <param name="signals">The signal to count down.</param>
public sealed class WolverineEventHandler(PeerSignals signals)
{
    /// <summary>Handles one event.</summary>
    /// <param name="event">The event.</param>
    public void Handle(BenchEvent @event) => signals.Events.Signal();
}

/// <summary>
/// The Wolverine command handler: its return value is the reply of <c>InvokeAsync&lt;BenchReply&gt;</c>. Wolverine 6.62 excludes
/// handler methods that return a primitive type ("EXCLUDED -- Returns a primitive type"), hence the reply object.
/// </summary>
public sealed class WolverineCommandHandler
{
    /// <summary>Handles one command.</summary>
    /// <param name="command">The command.</param>
    /// <returns>The reply.</returns>
    public BenchReply Handle(BenchCommand command) => new(BenchCommandHandler.Handle(command));
}

/// <summary>
/// Wolverine 6.62.0 in a generic host: events published to a buffered (in-memory) local queue with one listener
/// (sequential, like the single reader of the baseline); commands invoked inline with <c>InvokeAsync&lt;BenchReply&gt;</c>.
/// Handler code is generated and compiled at start (WolverineFx.RuntimeCompilation), in GlobalSetup, outside the measurement.
/// </summary>
public sealed class WolverinePeer : IAsyncDisposable
{
    /// <summary>The local queue the events go to.</summary>
    public const string EventQueue = "bench-events";

    private readonly IHost _host;

    private WolverinePeer(IHost host, PeerSignals signals)
    {
        _host = host;
        Signals = signals;

        // A message bus outside any handler, as application code gets one; reused for every publish and invoke.
        Bus = host.MessageBus();
    }

    /// <summary>Gets Wolverine's message bus.</summary>
    public IMessageBus Bus { get; }

    /// <summary>Gets the signals its handlers count down.</summary>
    public PeerSignals Signals { get; }

    /// <summary>Builds and starts the host.</summary>
    /// <returns>The started peer.</returns>
    public static async Task<WolverinePeer> StartAsync()
    {
        var signals = new PeerSignals();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(signals);
        builder.UseWolverine(options =>
        {
            // Under BenchmarkDotNet the entry assembly is the generated runner, not this one.
            options.ApplicationAssembly = typeof(WolverinePeer).Assembly;
            options.UseRuntimeCompilation();

            // Only the two handlers above: conventional discovery would also pick up the EventBus handler types of this assembly.
            options.Discovery.DisableConventionalDiscovery()
                .IncludeType<WolverineEventHandler>()
                .IncludeType<WolverineCommandHandler>();

            options.PublishMessage<BenchEvent>().ToLocalQueue(EventQueue);
            options.LocalQueue(EventQueue).BufferedInMemory().Sequential();
        });

        var host = builder.Build();
        await host.StartAsync();
        return new WolverinePeer(host, signals);
    }

    /// <summary>Stops and disposes the host.</summary>
    /// <returns>A task that completes when the host is disposed.</returns>
    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
