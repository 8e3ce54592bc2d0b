using EventBus.Tests.Infrastructure;
using TopologyShop.Sales;
using TopologyShop.Shipping;

namespace EventBus.Tests.Diagnostics
{
    /// <summary>
    /// <see cref="IEventBusControl.DescribeTopology"/> as a data model and as a Mermaid flowchart (<see cref="BusTopology.ToMermaid"/>),
    /// and the <see cref="SubscriptionState"/> of snapshots. The fixed topology lives in two namespaces (<c>TopologyShop.Sales</c> and
    /// <c>TopologyShop.Shipping</c>, the "modules"), at the end of this file.
    /// </summary>
    public sealed class TopologyTests
    {
        /// <summary>
        /// 2 events with 3 handlers across two modules, one of them a queue with 3 workers; a handler of an interface (which
        /// <c>OrderPlaced</c> implements); a command; topic-level and handler-level options. <see cref="EventBusOptions.QueueWorkers"/>
        /// (the command queue's workers) is pinned: its default is the machine's processor count.
        /// </summary>
        private static readonly Action<EventBusBuilder> Shop = b => b
            .Configure(o => o.QueueWorkers = 4)
            .AddEventHandler<OrderPlaced, InvoiceWhenPlaced>()
            .AddEventHandler<OrderPlaced, ShipWhenPlaced>()
            .AddEventHandler<ParcelShipped, NotifyWhenShipped>()
            .AddEventHandler<IAuditable, AuditTrail>()
            .AddCommandHandler<PlaceOrder, PlaceOrderHandler>()
            .AddTopic<ParcelShipped>(t => t.Capacity = 16)
            .ConfigureSubscription<ShipWhenPlaced>(o =>
            {
                o.Mode = DeliveryMode.Queue;
                o.Workers = 3;
                o.Capacity = 50;
                o.FullPolicy = FullPolicy.FailFast;
                o.HandlerTimeout = TimeSpan.FromSeconds(5);
                o.Redelivery = new RedeliveryOptions { MaxDeliveries = 4 };
            });

        [Fact]
        public async Task ToMermaid_FixedTopology_RendersTheExpectedFlowchart()
        {
            await using var bus = TestBus.Build(Shop);

            var mermaid = bus.Control.DescribeTopology().ToMermaid();

            mermaid.Should().Be(
                """
                flowchart LR
                  subgraph m0["TopologyShop.Sales"]
                    c_TopologyShop_Sales_PlaceOrder{{"PlaceOrder"}}
                    h_TopologyShop_Sales_AuditTrail["AuditTrail"]
                    h_TopologyShop_Sales_InvoiceWhenPlaced["InvoiceWhenPlaced"]
                    h_TopologyShop_Sales_PlaceOrderHandler["PlaceOrderHandler"]
                    t_TopologyShop_Sales_IAuditable[/"IAuditable (and derived)"/]
                    t_TopologyShop_Sales_OrderPlaced(["OrderPlaced"])
                  end
                  subgraph m1["TopologyShop.Shipping"]
                    h_TopologyShop_Shipping_NotifyWhenShipped["NotifyWhenShipped"]
                    h_TopologyShop_Shipping_ShipWhenPlaced["ShipWhenPlaced"]
                    t_TopologyShop_Shipping_ParcelShipped(["ParcelShipped"])
                  end
                  c_TopologyShop_Sales_PlaceOrder -->|command| h_TopologyShop_Sales_PlaceOrderHandler
                  t_TopologyShop_Sales_IAuditable -->|broadcast| h_TopologyShop_Sales_AuditTrail
                  t_TopologyShop_Sales_OrderPlaced -->|broadcast| h_TopologyShop_Sales_AuditTrail
                  t_TopologyShop_Sales_OrderPlaced -->|broadcast| h_TopologyShop_Sales_InvoiceWhenPlaced
                  t_TopologyShop_Sales_OrderPlaced -->|queue x3| h_TopologyShop_Shipping_ShipWhenPlaced
                  t_TopologyShop_Shipping_ParcelShipped -->|broadcast| h_TopologyShop_Shipping_NotifyWhenShipped

                """.ReplaceLineEndings("\n"));
        }

        [Fact]
        public async Task DescribeTopology_FixedTopology_DescribesTopicsSubscriptionsWithEffectiveOptionsAndCommands()
        {
            await using var bus = TestBus.Build(Shop);

            var topology = bus.Control.DescribeTopology();

            var broadcast = (string name, Type handler, int capacity) =>
                new SubscriptionDescription(name, handler, DeliveryMode.Broadcast, 1, capacity, FullPolicy.Wait, 1, null, AckMode.AfterHandling, IsBatch: false);
            topology.Should().BeEquivalentTo(
                new BusTopology(
                    [
                        new TopicDescription("TopologyShop.Sales.IAuditable", typeof(IAuditable), IsCommand: false, IsPolymorphic: true,
                            [broadcast("TopologyShop.Sales.AuditTrail", typeof(AuditTrail), 1024)]),
                        new TopicDescription("TopologyShop.Sales.OrderPlaced", typeof(OrderPlaced), IsCommand: false, IsPolymorphic: false,
                            [
                                broadcast("TopologyShop.Sales.AuditTrail", typeof(AuditTrail), 1024),
                                broadcast("TopologyShop.Sales.InvoiceWhenPlaced", typeof(InvoiceWhenPlaced), 1024),
                                new SubscriptionDescription("TopologyShop.Shipping.ShipWhenPlaced", typeof(ShipWhenPlaced), DeliveryMode.Queue, 3, 50, FullPolicy.FailFast,
                                    4, TimeSpan.FromSeconds(5), AckMode.AfterHandling, IsBatch: false),
                            ]),
                        new TopicDescription("TopologyShop.Sales.PlaceOrder", typeof(PlaceOrder), IsCommand: true, IsPolymorphic: false,
                            [
                                new SubscriptionDescription("TopologyShop.Sales.PlaceOrderHandler", typeof(PlaceOrderHandler), DeliveryMode.Queue, 4, 1024, FullPolicy.Wait,
                                    1, null, AckMode.AfterHandling, IsBatch: false),
                            ]),
                        new TopicDescription("TopologyShop.Shipping.ParcelShipped", typeof(ParcelShipped), IsCommand: false, IsPolymorphic: false,
                            [broadcast("TopologyShop.Shipping.NotifyWhenShipped", typeof(NotifyWhenShipped), 16)]),
                    ]),
                o => o.ComparingByMembers<BusTopology>().ComparingByMembers<TopicDescription>().WithStrictOrdering());
            topology.ToString().Should().Be("4 topic(s), 6 subscription(s), 1 command(s)");
        }

        [Fact]
        public async Task ToMermaid_BatchHandlerAndNestedTypes_BatchEdgeAndOuterDotInnerLabels()
        {
            await using var bus = TestBus.Build(b => b
                .AddEventHandler<NestedEvent, NestedHandler>()
                .AddBatchEventHandler<NestedEvent, NestedBatchHandler>(maxBatchSize: 10, maxWait: TimeSpan.Zero));

            var topology = bus.Control.DescribeTopology();

            topology.Topics.Single().Subscriptions.Select(s => (s.HandlerType, s.IsBatch)).Should().Equal((typeof(NestedBatchHandler), true), (typeof(NestedHandler), false));
            topology.ToMermaid().Should().Be(
                """
                flowchart LR
                  subgraph m0["EventBus.Tests.Diagnostics"]
                    h_EventBus_Tests_Diagnostics_TopologyTests_NestedBatchHandler["TopologyTests.NestedBatchHandler"]
                    h_EventBus_Tests_Diagnostics_TopologyTests_NestedHandler["TopologyTests.NestedHandler"]
                    t_EventBus_Tests_Diagnostics_TopologyTests_NestedEvent(["TopologyTests.NestedEvent"])
                  end
                  t_EventBus_Tests_Diagnostics_TopologyTests_NestedEvent -->|batch| h_EventBus_Tests_Diagnostics_TopologyTests_NestedBatchHandler
                  t_EventBus_Tests_Diagnostics_TopologyTests_NestedEvent -->|broadcast| h_EventBus_Tests_Diagnostics_TopologyTests_NestedHandler

                """.ReplaceLineEndings("\n"));
        }

        /// <summary>
        /// A topology must not depend on what the bus has done so far: a diagram generated into a README from a fresh bus has to
        /// match the running one. The queue of an enqueued command, configured as 3 workers, must be described from the start.
        /// </summary>
        [Fact]
        public async Task DescribeTopology_EnqueuedCommandWithAQueueOfThreeWorkers_DescribedBeforeTheFirstEnqueueAndUnchangedAfterIt()
        {
            await using var bus = TestBus.Build(b => b
                .AddCommandHandler<PlaceOrder, PlaceOrderHandler>()
                .ConfigureSubscription<PlaceOrderHandler>(o => { o.Mode = DeliveryMode.Queue; o.Workers = 3; }));
            var before = bus.Control.DescribeTopology().ToMermaid();

            await bus.Control.StartAsync();
            await bus.Commands.EnqueueAsync(new PlaceOrder(1));
            await bus.Log<PlaceOrderHandler, int>().WaitForCountAsync(1);
            var after = bus.Control.DescribeTopology().ToMermaid();

            after.Should().Be(before, "the topology describes the wiring, not what was published so far");
            before.Should().Contain("c_TopologyShop_Sales_PlaceOrder -->|command| h_TopologyShop_Sales_PlaceOrderHandler", "a command is drawn once, with its handler");
            var queue = bus.Control.DescribeTopology().Topics.Should().ContainSingle(t => t.IsCommand).Subject.Subscriptions.Should().ContainSingle().Subject;
            queue.Mode.Should().Be(DeliveryMode.Queue, "the command's queue and its workers are part of the wiring's data model");
            queue.Workers.Should().Be(3);
        }

        [Fact]
        public async Task SubscriptionState_OverTheBusLifetime_NotStartedThenRunningThenStopped()
        {
            await using var bus = TestBus.Build(Shop);

            bus.Control.GetSnapshot().Should().HaveCount(4).And.OnlyContain(s => s.State == SubscriptionState.NotStarted);

            await bus.Control.StartAsync();
            bus.Control.GetSnapshot().Should().HaveCount(4).And.OnlyContain(s => s.State == SubscriptionState.Running);

            await bus.Bus.PublishAsync(new OrderPlaced(1));
            await bus.Control.StopAsync();
            var stopped = bus.Control.GetSnapshot();
            stopped.Should().HaveCount(4).And.OnlyContain(s => s.State == SubscriptionState.Stopped);
            stopped.Where(s => s.Topic == typeof(OrderPlaced).FullName).Should().HaveCount(3).And.OnlyContain(s => s.Succeeded == 1);
        }

        public sealed record NestedEvent(int N);

        public sealed class NestedHandler : IEventHandler<NestedEvent>
        {
            public ValueTask HandleAsync(NestedEvent @event, MessageContext context, CancellationToken cancellationToken) => default;
        }

        public sealed class NestedBatchHandler : IBatchEventHandler<NestedEvent>
        {
            public ValueTask HandleAsync(IReadOnlyList<NestedEvent> events, IReadOnlyList<MessageContext> contexts, CancellationToken cancellationToken) => default;
        }
    }
}

namespace TopologyShop.Sales
{
    using EventBus;
    using EventBus.Tests.Infrastructure;

    public interface IAuditable;

    public sealed record OrderPlaced(int OrderId) : IAuditable;

    public sealed record PlaceOrder(int OrderId) : ICommand;

    public sealed class PlaceOrderHandler(Recorder<PlaceOrderHandler, int> handled) : ICommandHandler<PlaceOrder>
    {
        public ValueTask<CommandResult> HandleAsync(PlaceOrder command, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add(command.OrderId);
            return ValueTask.FromResult(CommandResult.Accepted);
        }
    }

    public sealed class InvoiceWhenPlaced : IEventHandler<OrderPlaced>
    {
        public ValueTask HandleAsync(OrderPlaced @event, MessageContext context, CancellationToken cancellationToken) => default;
    }

    public sealed class AuditTrail : IEventHandler<IAuditable>
    {
        public ValueTask HandleAsync(IAuditable @event, MessageContext context, CancellationToken cancellationToken) => default;
    }
}

namespace TopologyShop.Shipping
{
    using EventBus;
    using TopologyShop.Sales;

    public sealed record ParcelShipped(int OrderId);

    public sealed class ShipWhenPlaced : IEventHandler<OrderPlaced>
    {
        public ValueTask HandleAsync(OrderPlaced @event, MessageContext context, CancellationToken cancellationToken) => default;
    }

    public sealed class NotifyWhenShipped : IEventHandler<ParcelShipped>
    {
        public ValueTask HandleAsync(ParcelShipped @event, MessageContext context, CancellationToken cancellationToken) => default;
    }
}
