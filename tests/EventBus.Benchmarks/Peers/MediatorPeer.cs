namespace EventBus.Benchmarks.Peers;

/// <summary>The request of the Mediator row: the same work as <see cref="BenchCommand"/> (its handler returns <c>Value + 1</c>).</summary>
/// <param name="Value">The input.</param>
public sealed record MediatorPing(int Value) : global::Mediator.IRequest<int>;

/// <summary>The Mediator handler: a singleton, synchronous, like the bus's command handler.</summary>
public sealed class MediatorPingHandler : global::Mediator.IRequestHandler<MediatorPing, int>
{
    /// <inheritdoc />
    public ValueTask<int> Handle(MediatorPing request, CancellationToken cancellationToken) => new(request.Value + 1);
}

/// <summary>
/// Mediator 3.0.2 (source-generated, inline, no queue): a container with <c>AddMediator</c> and singleton handlers. Calls go
/// through <see cref="global::Mediator.IMediator"/>, as application code calls it.
/// </summary>
public sealed class MediatorPeer : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly global::Mediator.IMediator _mediator;

    /// <summary>Initializes a new instance of the <see cref="MediatorPeer"/> class.</summary>
    public MediatorPeer()
    {
        var services = new ServiceCollection();
        services.AddMediator((global::Mediator.MediatorOptions options) => options.ServiceLifetime = ServiceLifetime.Singleton);
        _provider = services.BuildServiceProvider();
        _mediator = _provider.GetRequiredService<global::Mediator.IMediator>();
    }

    /// <summary>Sends the request and awaits its response.</summary>
    /// <param name="ping">The request.</param>
    /// <returns>The response.</returns>
    public ValueTask<int> SendAsync(MediatorPing ping) => _mediator.Send(ping);

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _provider.DisposeAsync();
}

/// <summary>The Mediator row: <see cref="MediatorPeer.SendAsync"/> (the handler runs inline).</summary>
/// <param name="mediator">The peer.</param>
/// <param name="ping">The request.</param>
public readonly struct MediatorSender(MediatorPeer mediator, MediatorPing ping) : IRoundTripSender<int>
{
    /// <inheritdoc />
    public ValueTask<int> SendAsync() => mediator.SendAsync(ping);

    /// <inheritdoc />
    public int ResultOf(int reply) => reply;
}
