using Microsoft.Extensions.Hosting;
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
public sealed class WolverinePeer : HostedPeer
{
    /// <summary>The local queue the events go to.</summary>
    public const string EventQueue = "bench-events";

    private WolverinePeer(IHost host)
        : base(host)
    {
        // A message bus outside any handler, as application code gets one; reused for every publish and invoke.
        Bus = host.MessageBus();
    }

    /// <summary>Gets Wolverine's message bus.</summary>
    public IMessageBus Bus { get; }

    /// <summary>Builds and starts the host.</summary>
    /// <returns>The started peer.</returns>
    public static async Task<WolverinePeer> StartAsync() =>
        new(await StartHostAsync(builder => builder.UseWolverine(options =>
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
        })));
}

/// <summary>The Wolverine publish row: <see cref="IMessageBus.PublishAsync{T}"/> to the local queue.</summary>
/// <param name="bus">Wolverine's message bus.</param>
public readonly struct WolverinePublisher(IMessageBus bus) : IEventPublisher
{
    /// <inheritdoc />
    public ValueTask PublishAsync(BenchEvent @event) => bus.PublishAsync(@event);
}

/// <summary>The Wolverine command row: <c>InvokeAsync&lt;BenchReply&gt;</c> (the handler runs inline).</summary>
/// <param name="bus">Wolverine's message bus.</param>
/// <param name="command">The command.</param>
public readonly struct WolverineSender(IMessageBus bus, BenchCommand command) : IRoundTripSender<BenchReply>
{
    /// <inheritdoc />
    public ValueTask<BenchReply> SendAsync() => new(bus.InvokeAsync<BenchReply>(command));

    /// <inheritdoc />
    public int ResultOf(BenchReply reply) => reply.Value;
}
