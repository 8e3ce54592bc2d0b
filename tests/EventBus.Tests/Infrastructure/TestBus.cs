using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Infrastructure;

/// <summary>
/// One bus in its own <see cref="ServiceProvider"/> for one test: built with the test's registrations, started (unless the test
/// wants to start it itself), and stopped and disposed at the end. Every container gets fresh <see cref="Recorder{T}"/>s,
/// <see cref="Gate"/>s and a <see cref="ProbeTracker"/>, and <see cref="Undelivered"/> records <see cref="EventBusOptions.OnUndelivered"/>.
/// </summary>
public sealed class TestBus : IAsyncDisposable
{
    /// <summary>The stop timeout given unless a test sets its own: long enough to drain, short enough that a broken test ends.</summary>
    public static readonly TimeSpan DefaultStopTimeout = TimeSpan.FromSeconds(10);

    private TestBus(ServiceProvider services, Recorder<UndeliveredMessage> undelivered)
    {
        Services = services;
        Undelivered = undelivered;
    }

    public ServiceProvider Services { get; }

    public IEventBus Bus => Services.GetRequiredService<IEventBus>();

    public ICommandBus Commands => Services.GetRequiredService<ICommandBus>();

    public IEventBusControl Control => Services.GetRequiredService<IEventBusControl>();

    /// <summary>Gets every message reported to <see cref="EventBusOptions.OnUndelivered"/> (unless the test replaced the callback).</summary>
    public Recorder<UndeliveredMessage> Undelivered { get; }

    /// <summary>Builds the container without starting the bus (nothing is resolved yet).</summary>
    public static TestBus Build(Action<EventBusBuilder> configure, Action<IServiceCollection>? services = null)
    {
        var collection = CreateServices(configure, services, out var undelivered);
        return new TestBus(collection.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true }), undelivered);
    }

    /// <summary>Builds the container and starts the bus.</summary>
    public static async Task<TestBus> StartAsync(Action<EventBusBuilder> configure, Action<IServiceCollection>? services = null)
    {
        var bus = Build(configure, services);
        try
        {
            await bus.Control.StartAsync();
        }
        catch
        {
            await bus.DisposeAsync();
            throw;
        }

        return bus;
    }

    /// <summary>The service collection <see cref="Build"/> uses, for tests that build their own provider or host.</summary>
    public static IServiceCollection CreateServices(Action<EventBusBuilder> configure, Action<IServiceCollection>? services, out Recorder<UndeliveredMessage> undelivered)
    {
        var collection = new ServiceCollection();
        AddTestServices(collection, out undelivered);
        services?.Invoke(collection);
        var report = undelivered;
        collection.AddEventBus(b =>
        {
            b.Configure(o =>
            {
                o.StopTimeout = DefaultStopTimeout;
                o.OnUndelivered = report.Add;
            });
            configure(b);
        });
        return collection;
    }

    /// <summary>Adds the recorders, gates and probes tests share with their handlers.</summary>
    public static void AddTestServices(IServiceCollection services, out Recorder<UndeliveredMessage> undelivered)
    {
        undelivered = new Recorder<UndeliveredMessage>();
        services.AddSingleton(undelivered);
        services.AddSingleton(typeof(Recorder<>));
        services.AddSingleton(typeof(Recorder<,>));
        services.AddSingleton<Gate>();
        services.AddSingleton(typeof(Gate<>));
        services.AddSingleton<ProbeTracker>();
        services.AddScoped<ScopedProbe>();
    }

    public T Get<T>()
        where T : notnull => Services.GetRequiredService<T>();

    /// <summary>The recorder owned by <typeparamref name="THandler"/>.</summary>
    public Recorder<THandler, T> Log<THandler, T>() => Get<Recorder<THandler, T>>();

    /// <summary>The snapshot of <typeparamref name="THandler"/>'s only subscription.</summary>
    public SubscriptionSnapshot Snapshot<THandler>() =>
        Control.GetSnapshot().Single(s => s.Subscription == typeof(THandler).FullName);

    /// <summary>The snapshot of <typeparamref name="THandler"/>'s subscription on the topic <typeparamref name="TMessage"/>.</summary>
    public SubscriptionSnapshot Snapshot<TMessage, THandler>() =>
        Control.GetSnapshot().Single(s => s.Topic == typeof(TMessage).FullName && s.Subscription == typeof(THandler).FullName);

    /// <summary>Waits until no subscription has buffered or in-flight messages (the workers are idle).</summary>
    public Task WaitUntilIdleAsync() =>
        Wait.UntilAsync(() => Control.GetSnapshot().All(s => s.Depth == 0 && s.InFlight == 0), "every subscription is idle");

    public ValueTask DisposeAsync() => Services.DisposeAsync();
}
