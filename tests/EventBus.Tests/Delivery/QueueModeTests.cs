using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Delivery;

/// <summary>The delivery contract in <see cref="DeliveryMode.Queue"/> mode with 4 competing workers, plus its concurrency.</summary>
public sealed class QueueModeTests : DeliveryContractTests
{
    protected override DeliveryMode Mode => DeliveryMode.Queue;

    protected override int Workers => 4;

    protected override void ConfigureMode<THandler>(EventBusBuilder builder) =>
        builder.ConfigureSubscription<THandler>(o =>
        {
            o.Mode = DeliveryMode.Queue;
            o.Workers = 4;
        });

    [Fact]
    public async Task PublishAsync_HandlersBlock_FourWorkersHandleFourMessagesAtOnce()
    {
        const int Events = 20;
        await using var bus = await StartAsync(b => Subscribe<RendezvousHandler>(b));
        var started = bus.Log<RendezvousHandler, int>();

        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new Item(i));
        }

        // Four handlers are blocked at the same time: only competing workers can get there.
        (await started.WaitForCountAsync(4)).Should().HaveCount(4);
        bus.Snapshot<RendezvousHandler>().InFlight.Should().Be(4);
        bus.Get<Gate<RendezvousHandler>>().Open();

        (await started.WaitForCountAsync(Events)).Should().BeEquivalentTo(Enumerable.Range(0, Events));
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Snapshot<RendezvousHandler>().Succeeded.Should().Be(Events);
    }

    [Fact]
    public async Task PublishAsync_OneMessageAtATimeWhileHandlersBlock_EachStartsOnAnIdleWorker()
    {
        // Every message arrives when the buffer is empty while the other workers are busy, so each one is taken by the parked
        // worker that the previous worker made the next to wake when it took its own message (IdleWorkers): the write wakes it.
        await using var bus = await StartAsync(b => Subscribe<RendezvousHandler>(b));
        var started = bus.Log<RendezvousHandler, int>();

        for (var i = 0; i < Workers; i++)
        {
            await bus.Bus.PublishAsync(new Item(i));
            (await started.WaitForCountAsync(i + 1)).Should().Equal(Enumerable.Range(0, i + 1));
        }

        bus.Snapshot<RendezvousHandler>().InFlight.Should().Be(Workers);
        bus.Get<Gate<RendezvousHandler>>().Open();

        // Once they are idle again, single messages still find a worker, round after round.
        for (var i = Workers; i < 3 * Workers; i++)
        {
            await bus.Bus.PublishAsync(new Item(i));
            (await started.WaitForCountAsync(i + 1)).Should().Equal(Enumerable.Range(0, i + 1));
        }

        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Snapshot<RendezvousHandler>().Succeeded.Should().Be(3 * Workers);
    }

    public sealed class RendezvousHandler(Gate<RendezvousHandler> gate, Recorder<RendezvousHandler, int> started) : IEventHandler<Item>
    {
        public async ValueTask HandleAsync(Item @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add(@event.N);
            await gate.WaitAsync(cancellationToken);
        }
    }
}
