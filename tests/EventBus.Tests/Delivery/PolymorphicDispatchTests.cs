using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Delivery;

/// <summary>Events dispatch by runtime type; handlers of a base type or interface receive derived events.</summary>
public sealed class PolymorphicDispatchTests
{
    [Fact]
    public async Task PublishAsync_HandlersOfBaseClassAndInterface_ReceiveDerivedEvents()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<IDomainEvent, DomainEventAuditor>()
            .AddEventHandler<OrderEvent, OrderEventHandler>()
            .AddEventHandler<OrderPlaced, OrderPlacedHandler>());

        await bus.Bus.PublishAsync(new OrderPlaced(1));
        await bus.Bus.PublishAsync(new OrderShipped(2));
        await bus.Bus.PublishAsync(new CustomerRegistered(3));

        // Each runtime type is a topic of its own, with its own worker per handler: there is no order across them.
        (await bus.Log<DomainEventAuditor, IDomainEvent>().WaitForCountAsync(3)).Should().BeEquivalentTo(
            new IDomainEvent[] { new OrderPlaced(1), new OrderShipped(2), new CustomerRegistered(3) }, o => o.RespectingRuntimeTypes());
        (await bus.Log<OrderEventHandler, OrderEvent>().WaitForCountAsync(2)).Should().BeEquivalentTo(
            new OrderEvent[] { new OrderPlaced(1), new OrderShipped(2) }, o => o.RespectingRuntimeTypes());
        (await bus.Log<OrderPlacedHandler, OrderPlaced>().WaitForCountAsync(1)).Should().Equal(new OrderPlaced(1));
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<OrderEventHandler, OrderEvent>().Count.Should().Be(2);
        bus.Log<OrderPlacedHandler, OrderPlaced>().Count.Should().Be(1, "a handler of a sibling type does not receive it");
        bus.Control.GetSnapshot().Select(s => (s.Topic, s.Subscription)).Should().Contain((typeof(OrderShipped).FullName!, typeof(OrderEventHandler).FullName!),
            "a topic is created on first publish for a type only base-type handlers declare");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task PublishAsync_HandlerImplementsDerivedAndInterface_RunsExactlyOncePerEvent(bool specificFirst)
    {
        const int Events = 50;
        await using var bus = await TestBus.StartAsync(b =>
        {
            if (specificFirst)
            {
                b.AddEventHandler<OrderPlaced, DualHandler>().AddEventHandler<IDomainEvent, DualHandler>();
            }
            else
            {
                b.AddEventHandler<IDomainEvent, DualHandler>().AddEventHandler<OrderPlaced, DualHandler>();
            }
        });

        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new OrderPlaced(i));
            await bus.Bus.PublishAsync(new OrderShipped(i));
        }

        await bus.Log<DualHandler, string>().WaitForCountAsync(2 * Events);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        var calls = bus.Log<DualHandler, string>().Items;
        calls.Should().HaveCount(2 * Events, "each event runs the handler once");
        calls.Where(c => c.StartsWith("OrderPlaced", StringComparison.Ordinal)).Should()
            .Equal(Enumerable.Range(0, Events).Select(i => $"OrderPlaced {i} via IEventHandler<OrderPlaced>"), "the most specific interface is used");
        calls.Where(c => c.StartsWith("OrderShipped", StringComparison.Ordinal)).Should()
            .Equal(Enumerable.Range(0, Events).Select(i => $"OrderShipped {i} via IEventHandler<IDomainEvent>"));
    }

    [Fact]
    public async Task PublishAsync_EventTypedAsItsInterfaceOrObject_ReachesHandlersOfItsConcreteType()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<OrderPlaced, OrderPlacedHandler>());

        IDomainEvent asInterface = new OrderPlaced(1);
        object asObject = new OrderPlaced(2);
        await bus.Bus.PublishAsync(asInterface);
        await bus.Bus.PublishAsync(asObject);
        await bus.Bus.PublishBatchAsync<IDomainEvent>([new OrderPlaced(3), new OrderPlaced(4)]);

        (await bus.Log<OrderPlacedHandler, OrderPlaced>().WaitForCountAsync(4)).Should().Equal(new OrderPlaced(1), new OrderPlaced(2), new OrderPlaced(3), new OrderPlaced(4));
        bus.Control.GetSnapshot().Should().ContainSingle().Which.Topic.Should().Be(typeof(OrderPlaced).FullName, "the topic is the runtime type");
    }

    [Fact]
    public async Task PublishBatchAsync_MixedRuntimeTypes_EachReachesItsOwnHandlersInOrder()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<OrderPlaced, OrderPlacedHandler>()
            .AddEventHandler<IDomainEvent, DomainEventAuditor>());

        await bus.Bus.PublishBatchAsync<IDomainEvent>([new OrderPlaced(1), new CustomerRegistered(2), new OrderPlaced(3)]);

        (await bus.Log<OrderPlacedHandler, OrderPlaced>().WaitForCountAsync(2)).Should().Equal(new OrderPlaced(1), new OrderPlaced(3));
        (await bus.Log<DomainEventAuditor, IDomainEvent>().WaitForCountAsync(3)).Should().BeEquivalentTo(new IDomainEvent[] { new OrderPlaced(1), new CustomerRegistered(2), new OrderPlaced(3) }, o => o.RespectingRuntimeTypes(), "each runtime type is its own topic, so only the order within a type is promised");
    }

    [Fact]
    public async Task PublishAsync_DeclaredTopicWithoutHandlers_IsAccepted()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<OrderPlaced, OrderPlacedHandler>().AddTopic<CustomerRegistered>());

        await bus.Bus.PublishAsync(new CustomerRegistered(1)).AsTask().Within();

        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Control.GetSnapshot().Should().OnlyContain(s => s.Topic == typeof(OrderPlaced).FullName, "a topic without handlers has no subscriptions");
    }

    [Fact]
    public async Task PublishAsync_SingletonHandlers_AreCalledThroughTheInterfaceTheyImplementForTheEventsType()
    {
        // Singleton handlers without middleware take the direct path: the handler method is bound once. It must be the
        // implementation of the subscription's own interface (explicit implementations included), for derived and struct events.
        const int Events = 20;
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<IDomainEvent, DomainEventAuditor>(ServiceLifetime.Singleton)
            .AddEventHandler<OrderPlaced, DualHandler>(ServiceLifetime.Singleton)
            .AddEventHandler<IDomainEvent, DualHandler>(ServiceLifetime.Singleton)
            .AddEventHandler<Reading, ReadingHandler>(ServiceLifetime.Singleton));

        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new OrderPlaced(i));
            await bus.Bus.PublishAsync(new OrderShipped(i));
            await bus.Bus.PublishAsync(new Reading(i, i * 1.5));
        }

        var audited = await bus.Log<DomainEventAuditor, IDomainEvent>().WaitForCountAsync(2 * Events);
        audited.OfType<OrderPlaced>().Should().Equal(Enumerable.Range(0, Events).Select(i => new OrderPlaced(i)));
        audited.OfType<OrderShipped>().Should().Equal(Enumerable.Range(0, Events).Select(i => new OrderShipped(i)));
        var calls = await bus.Log<DualHandler, string>().WaitForCountAsync(2 * Events);
        calls.Where(c => c.StartsWith("OrderPlaced", StringComparison.Ordinal)).Should()
            .Equal(Enumerable.Range(0, Events).Select(i => $"OrderPlaced {i} via IEventHandler<OrderPlaced>"));
        calls.Where(c => c.StartsWith("OrderShipped", StringComparison.Ordinal)).Should()
            .Equal(Enumerable.Range(0, Events).Select(i => $"OrderShipped {i} via IEventHandler<IDomainEvent>"));
        (await bus.Log<ReadingHandler, Reading>().WaitForCountAsync(Events)).Should()
            .Equal(Enumerable.Range(0, Events).Select(i => new Reading(i, i * 1.5)), "a struct event arrives unboxed, with its values");
    }

    public interface IDomainEvent;

    /// <summary>An event that is a struct: it is boxed once when published.</summary>
    public readonly record struct Reading(int Sensor, double Value);

    public sealed class ReadingHandler(Recorder<ReadingHandler, Reading> log) : IEventHandler<Reading>
    {
        public ValueTask HandleAsync(Reading @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event);
            return default;
        }
    }

    public abstract record OrderEvent(int Id) : IDomainEvent;

    public sealed record OrderPlaced(int Id) : OrderEvent(Id);

    public sealed record OrderShipped(int Id) : OrderEvent(Id);

    public sealed record CustomerRegistered(int Id) : IDomainEvent;

    public sealed class DomainEventAuditor(Recorder<DomainEventAuditor, IDomainEvent> log) : IEventHandler<IDomainEvent>
    {
        public ValueTask HandleAsync(IDomainEvent @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event);
            return default;
        }
    }

    public sealed class OrderEventHandler(Recorder<OrderEventHandler, OrderEvent> log) : IEventHandler<OrderEvent>
    {
        public ValueTask HandleAsync(OrderEvent @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event);
            return default;
        }
    }

    public sealed class OrderPlacedHandler(Recorder<OrderPlacedHandler, OrderPlaced> log) : IEventHandler<OrderPlaced>
    {
        public ValueTask HandleAsync(OrderPlaced @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event);
            return default;
        }
    }

    public sealed class DualHandler(Recorder<DualHandler, string> log) : IEventHandler<OrderPlaced>, IEventHandler<IDomainEvent>
    {
        ValueTask IEventHandler<OrderPlaced>.HandleAsync(OrderPlaced @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add($"OrderPlaced {@event.Id} via IEventHandler<OrderPlaced>");
            return default;
        }

        ValueTask IEventHandler<IDomainEvent>.HandleAsync(IDomainEvent @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add($"{@event.GetType().Name} {((OrderEvent)@event).Id} via IEventHandler<IDomainEvent>");
            return default;
        }
    }
}
