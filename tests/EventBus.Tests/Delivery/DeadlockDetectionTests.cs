using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Delivery;

/// <summary>A handler publishing into its own full buffer would wait forever (only its own worker drains it): the bus detects it.</summary>
public sealed class DeadlockDetectionTests
{
    [Fact]
    public async Task PublishAsync_FromHandlerIntoItsOwnFullBuffer_ThrowsInvalidOperationExceptionMentioningDeadlock()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Echo, SelfPublishingHandler>()
            .ConfigureSubscription<SelfPublishingHandler>(o =>
            {
                o.Capacity = 1;
                o.FullPolicy = FullPolicy.Wait;
            }));

        // Echo 0 is taken by the worker; the publish of echo 1 completes only once it is, and fills the buffer (capacity 1).
        await bus.Bus.PublishAsync(new Echo(0));
        await bus.Bus.PublishAsync(new Echo(1)).AsTask().Within();
        bus.Get<Gate<SelfPublishingHandler>>().Open(); // now the handler of echo 0 publishes echo 2 into its own full buffer

        var outcome = (await bus.Log<SelfPublishingHandler, Exception?>().WaitForCountAsync(1, Wait.Promptly)).Single();

        outcome.Should().BeOfType<InvalidOperationException>()
            .Which.Message.Should().ContainEquivalentOf("deadlock").And.Contain(typeof(SelfPublishingHandler).FullName);
        (await bus.Log<SelfPublishingHandler, int>().WaitForCountAsync(2)).Should().Equal(0, 1);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<SelfPublishingHandler, int>().Items.Should().Equal([0, 1], "the refused echo 2 was not published");
    }

    [Fact]
    public async Task PublishAsync_FromHandlerIntoAnotherSubscriptionsFullBuffer_WaitsForRoomInsteadOfThrowing()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Echo, ForwardingHandler>()
            .AddEventHandler<Forwarded, SlowForwardedHandler>()
            .ConfigureSubscription<SlowForwardedHandler>(o =>
            {
                o.Capacity = 1;
                o.FullPolicy = FullPolicy.Wait;
            }));

        // The forwarded subscription is full while its gate is closed: the forwarding handler's publish must wait, not fail.
        for (var i = 0; i < 5; i++)
        {
            await bus.Bus.PublishAsync(new Echo(i));
        }

        await bus.Log<SlowForwardedHandler, string>().WaitForCountAsync(1);
        bus.Get<Gate<SlowForwardedHandler>>().Open();

        (await bus.Log<SlowForwardedHandler, int>().WaitForCountAsync(5)).Should().Equal(0, 1, 2, 3, 4);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Undelivered.Items.Should().BeEmpty("no publish was refused");
    }

    public sealed record Echo(int N);

    public sealed record Forwarded(int N);

    public sealed class SelfPublishingHandler(IEventBus bus, Gate<SelfPublishingHandler> gate, Recorder<SelfPublishingHandler, Exception?> outcomes, Recorder<SelfPublishingHandler, int> handled) : IEventHandler<Echo>
    {
        public async ValueTask HandleAsync(Echo @event, MessageContext context, CancellationToken cancellationToken)
        {
            if (@event.N == 0)
            {
                await gate.WaitAsync(cancellationToken);
                try
                {
                    await bus.PublishAsync(new Echo(2), cancellationToken);
                    outcomes.Add(null);
                }
                catch (InvalidOperationException e)
                {
                    outcomes.Add(e);
                }
            }

            handled.Add(@event.N);
        }
    }

    public sealed class ForwardingHandler(IEventBus bus) : IEventHandler<Echo>
    {
        public ValueTask HandleAsync(Echo @event, MessageContext context, CancellationToken cancellationToken) =>
            bus.PublishAsync(new Forwarded(@event.N), cancellationToken);
    }

    public sealed class SlowForwardedHandler(Gate<SlowForwardedHandler> gate, Recorder<SlowForwardedHandler, string> started, Recorder<SlowForwardedHandler, int> handled) : IEventHandler<Forwarded>
    {
        public async ValueTask HandleAsync(Forwarded @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add($"started {@event.N}");
            await gate.WaitAsync(cancellationToken);
            handled.Add(@event.N);
        }
    }
}
