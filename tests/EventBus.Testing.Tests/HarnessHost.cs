using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Testing.Tests;

/// <summary>
/// One bus with the test harness in its own <see cref="ServiceProvider"/>, as a user test would build it: <c>AddEventBus</c> with
/// <c>AddTestHarness()</c>. Every container gets fresh <see cref="Recorder{T}"/>s and <see cref="Gate"/>s for the handlers.
/// </summary>
public sealed class HarnessHost : IAsyncDisposable
{
    private HarnessHost(ServiceProvider services) => Services = services;

    public ServiceProvider Services { get; }

    public EventBusTestHarness Harness => Services.GetRequiredService<EventBusTestHarness>();

    public IEventBus Bus => Services.GetRequiredService<IEventBus>();

    public ICommandBus Commands => Services.GetRequiredService<ICommandBus>();

    public IEventBusControl Control => Services.GetRequiredService<IEventBusControl>();

    /// <summary>Builds the container (nothing resolved, the bus not started).</summary>
    public static HarnessHost Build(Action<EventBusBuilder> configure, Action<IServiceCollection>? services = null)
    {
        var collection = new ServiceCollection();
        collection.AddSingleton(typeof(Recorder<>));
        collection.AddSingleton(typeof(Recorder<,>));
        collection.AddSingleton(typeof(Gate<>));
        services?.Invoke(collection);
        collection.AddEventBus(b =>
        {
            b.Configure(o => o.StopTimeout = TimeSpan.FromSeconds(10));
            configure(b);
            b.AddTestHarness();
        });
        return new HarnessHost(collection.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true }));
    }

    /// <summary>Builds the container, resolves the harness (which resolves the bus) and starts the bus.</summary>
    public static async Task<HarnessHost> StartAsync(Action<EventBusBuilder> configure, Action<IServiceCollection>? services = null)
    {
        var host = Build(configure, services);
        _ = host.Harness;
        await host.Control.StartAsync();
        return host;
    }

    public T Get<T>()
        where T : notnull => Services.GetRequiredService<T>();

    public ValueTask DisposeAsync() => Services.DisposeAsync();
}
