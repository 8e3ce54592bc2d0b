namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// An EventBus built and started for one benchmark class (in GlobalSetup) and stopped and disposed in GlobalCleanup.
/// No host: the bus is started through <see cref="IEventBusControl"/>, as an application without a generic host does.
/// </summary>
public sealed class BusFixture : IAsyncDisposable
{
    private readonly ServiceProvider _provider;
    private readonly IEventBusControl _control;

    private BusFixture(ServiceProvider provider)
    {
        _provider = provider;
        _control = provider.GetRequiredService<IEventBusControl>();
        Events = provider.GetRequiredService<IEventBus>();
        Commands = provider.GetRequiredService<ICommandBus>();
    }

    /// <summary>Gets the publishing side of the bus.</summary>
    public IEventBus Events { get; }

    /// <summary>Gets the command side of the bus.</summary>
    public ICommandBus Commands { get; }

    /// <summary>Gets the typed sender of a command type (resolved on first use; its resolution throws when the command has no handler).</summary>
    /// <typeparam name="TCommand">The command type.</typeparam>
    /// <typeparam name="TResult">The result type.</typeparam>
    /// <returns>The sender.</returns>
    public ICommandSender<TCommand, TResult> Sender<TCommand, TResult>()
        where TCommand : ICommand<TResult> =>
        _provider.GetRequiredService<ICommandSender<TCommand, TResult>>();

    /// <summary>Gets the streams of the bus (replay readers, consumer groups started at run time).</summary>
    public IEventStreams Streams => _provider.GetRequiredService<IEventStreams>();

    /// <summary>Builds and starts a bus.</summary>
    /// <param name="handlerInstances">
    /// The handler instances, each registered as a singleton of its own type before the bus, so the bus resolves these very instances.
    /// </param>
    /// <param name="configure">Registers the handlers with the bus.</param>
    /// <returns>The started bus.</returns>
    public static async Task<BusFixture> StartAsync(IEnumerable<object> handlerInstances, Action<EventBusBuilder> configure)
    {
        var services = new ServiceCollection();
        foreach (var handler in handlerInstances)
        {
            services.AddSingleton(handler.GetType(), handler);
        }

        services.AddEventBus(configure);
        var fixture = new BusFixture(services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true }));
        await fixture._control.StartAsync();
        return fixture;
    }

    /// <summary>Stops the bus (draining) and disposes the container.</summary>
    /// <returns>A task that completes when both are done.</returns>
    public async ValueTask DisposeAsync()
    {
        var report = await _control.StopAsync();
        await _provider.DisposeAsync();
        _ = report;
    }
}
