using MassTransit;
using Microsoft.Extensions.Hosting;

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
public sealed class MassTransitPeer : HostedPeer
{
    private readonly IServiceScope _scope;

    private MassTransitPeer(IHost host)
        : base(host)
    {
        Bus = host.Services.GetRequiredService<IBus>();

        // The request client is scoped: one scope for the whole run, as a long-lived client would have.
        _scope = host.Services.CreateScope();
        Requests = _scope.ServiceProvider.GetRequiredService<IRequestClient<BenchCommand>>();
    }

    /// <summary>Gets the bus to publish with.</summary>
    public IBus Bus { get; }

    /// <summary>Gets the request client of the command.</summary>
    public IRequestClient<BenchCommand> Requests { get; }

    /// <summary>Builds and starts the host (and with it the bus).</summary>
    /// <returns>The started peer.</returns>
    public static async Task<MassTransitPeer> StartAsync() =>
        new(await StartHostAsync(builder => builder.Services.AddMassTransit(bus =>
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
        })));

    /// <summary>Disposes the request client's scope, then stops and disposes the host.</summary>
    /// <returns>A task that completes when the host is disposed.</returns>
    public override async ValueTask DisposeAsync()
    {
        _scope.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>The MassTransit publish row: <c>IBus.Publish</c> to the receive endpoint.</summary>
/// <param name="bus">The bus.</param>
public readonly struct MassTransitPublisher(IBus bus) : IEventPublisher
{
    /// <inheritdoc />
    public ValueTask PublishAsync(BenchEvent @event) => new(bus.Publish(@event));
}

/// <summary>The MassTransit command row: <c>GetResponse&lt;BenchReply&gt;</c> through the request client.</summary>
/// <param name="requests">The request client.</param>
/// <param name="command">The command.</param>
public readonly struct MassTransitSender(IRequestClient<BenchCommand> requests, BenchCommand command) : IRoundTripSender<Response<BenchReply>>
{
    /// <inheritdoc />
    public ValueTask<Response<BenchReply>> SendAsync() => new(requests.GetResponse<BenchReply>(command));

    /// <inheritdoc />
    public int ResultOf(Response<BenchReply> reply) => reply.Message.Value;
}
