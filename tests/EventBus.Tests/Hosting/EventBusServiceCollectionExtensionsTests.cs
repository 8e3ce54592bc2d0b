using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBus.Tests.Hosting;

/// <summary><see cref="EventBusServiceCollectionExtensions.AddEventBus"/>: one bus behind three interfaces, and a hosted service.</summary>
public sealed class EventBusServiceCollectionExtensionsTests
{
    [Fact]
    public async Task AddEventBus_EachInterfaceIsASingletonOfItsOwn()
    {
        await using var bus = TestBus.Build(b => b.AddEventHandler<Hello, HelloHandler<FirstTag>>());

        object[] services = [bus.Get<IEventBus>(), bus.Get<ICommandBus>(), bus.Get<IEventBusControl>(), bus.Get<IDeadLetterQueue>(), bus.Get<IEventStreams>()];

        services.Should().OnlyHaveUniqueItems(s => s.GetType(), "each public interface has its own implementing type");
        bus.Get<IEventBus>().Should().BeSameAs(bus.Get<IEventBus>());
        bus.Get<ICommandBus>().Should().BeSameAs(bus.Get<ICommandBus>());
        bus.Services.GetServices<IHostedService>().Should().ContainSingle();
    }

    [Fact]
    public async Task AddEventBus_CalledTwice_AddsToTheSameBus()
    {
        var services = TestBus.CreateServices(b => b.AddEventHandler<Hello, HelloHandler<FirstTag>>(), null, out _);
        services.AddEventBus(b => b.AddEventHandler<Hello, HelloHandler<SecondTag>>());
        await using var provider = services.BuildServiceProvider();
        var control = provider.GetRequiredService<IEventBusControl>();
        await control.StartAsync();

        await provider.GetRequiredService<IEventBus>().PublishAsync(new Hello(1));
        await provider.GetRequiredService<Recorder<HelloHandler<FirstTag>, int>>().WaitForCountAsync(1);
        await provider.GetRequiredService<Recorder<HelloHandler<SecondTag>, int>>().WaitForCountAsync(1);

        control.GetSnapshot().Select(s => s.Subscription).Should().BeEquivalentTo(typeof(HelloHandler<FirstTag>).FullName, typeof(HelloHandler<SecondTag>).FullName);
        services.Count(d => d.ServiceType == typeof(IHostedService)).Should().Be(1);
        await control.StopAsync();
    }

    [Fact]
    public void AddEventBus_NullArguments_ThrowArgumentNullException()
    {
        var withoutServices = () => EventBusServiceCollectionExtensions.AddEventBus(null!, _ => { });
        var withoutConfigure = () => new ServiceCollection().AddEventBus(null!);

        withoutServices.Should().Throw<ArgumentNullException>();
        withoutConfigure.Should().Throw<ArgumentNullException>();
    }

    public sealed record Hello(int N);

    /// <summary>Records what it handles; each <typeparamref name="TTag"/> is a handler type of its own, hence a subscription of its own.</summary>
    public sealed class HelloHandler<TTag>(Recorder<HelloHandler<TTag>, int> log) : IEventHandler<Hello>
    {
        public ValueTask HandleAsync(Hello @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event.N);
            return default;
        }
    }

    public sealed class FirstTag;

    public sealed class SecondTag;

}
