using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Delivery;

/// <summary>Each delivery runs in its own DI scope (so a scoped DbContext works in a handler), disposed right after it.</summary>
public sealed class HandlerScopeTests
{
    [Theory]
    [InlineData(DeliveryMode.Broadcast, 1)]
    [InlineData(DeliveryMode.Queue, 4)]
    public async Task HandleAsync_ScopedHandlerWithScopedDependency_NewInstancePerDeliveryDisposedAfterIt(DeliveryMode mode, int workers)
    {
        const int Events = 200;
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Work, ScopedWorkHandler>(ServiceLifetime.Scoped)
            .ConfigureSubscription<ScopedWorkHandler>(o =>
            {
                o.Mode = mode;
                o.Workers = workers;
            }));
        var tracker = bus.Get<ProbeTracker>();

        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new Work(i));
        }

        var deliveries = await bus.Log<ScopedWorkHandler, Delivery>().WaitForCountAsync(Events);
        await tracker.Disposed.WaitForCountAsync(Events);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        deliveries.Select(d => d.Work).Should().BeEquivalentTo(Enumerable.Range(0, Events));
        deliveries.Select(d => d.ProbeId).Should().OnlyHaveUniqueItems("a scoped dependency is new for every delivery");
        deliveries.Select(d => d.HandlerId).Should().OnlyHaveUniqueItems("a scoped handler is new for every delivery");
        deliveries.Should().OnlyContain(d => !d.ProbeDisposedDuringDelivery, "the scope lives until the handler has finished");
        tracker.Created.Items.Should().BeEquivalentTo(deliveries.Select(d => d.ProbeId), "no probe was created outside a delivery");
        tracker.Disposed.Items.Should().BeEquivalentTo(deliveries.Select(d => d.ProbeId), "every delivery's scope is disposed exactly once");
    }

    [Fact]
    public async Task HandleAsync_SingletonHandler_SameInstanceForEveryDelivery()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Work, SingletonWorkHandler>(ServiceLifetime.Singleton));

        for (var i = 0; i < 10; i++)
        {
            await bus.Bus.PublishAsync(new Work(i));
        }

        var instances = await bus.Log<SingletonWorkHandler, SingletonWorkHandler>().WaitForCountAsync(10);
        instances.Distinct().Should().ContainSingle().Which.Should().BeSameAs(bus.Get<SingletonWorkHandler>());
    }

    [Fact]
    public async Task HandleAsync_TransientHandler_NewInstancePerDelivery()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Work, TransientWorkHandler>(ServiceLifetime.Transient));

        for (var i = 0; i < 10; i++)
        {
            await bus.Bus.PublishAsync(new Work(i));
        }

        (await bus.Log<TransientWorkHandler, TransientWorkHandler>().WaitForCountAsync(10)).Should().OnlyHaveUniqueItems();
    }

    public sealed record Work(int N);

    public sealed record Delivery(int Work, int HandlerId, int ProbeId, bool ProbeDisposedDuringDelivery);

    public sealed class ScopedWorkHandler(ScopedProbe probe, Recorder<ScopedWorkHandler, Delivery> log) : IEventHandler<Work>
    {
        private static int s_lastId;
        private readonly int _id = Interlocked.Increment(ref s_lastId);

        public async ValueTask HandleAsync(Work @event, MessageContext context, CancellationToken cancellationToken)
        {
            await Task.Yield(); // the scope must outlive an asynchronous handler too
            log.Add(new Delivery(@event.N, _id, probe.Id, probe.IsDisposed));
        }
    }

    public sealed class SingletonWorkHandler(Recorder<SingletonWorkHandler, SingletonWorkHandler> log) : IEventHandler<Work>
    {
        public ValueTask HandleAsync(Work @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(this);
            return default;
        }
    }

    public sealed class TransientWorkHandler(Recorder<TransientWorkHandler, TransientWorkHandler> log) : IEventHandler<Work>
    {
        public ValueTask HandleAsync(Work @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(this);
            return default;
        }
    }
}
