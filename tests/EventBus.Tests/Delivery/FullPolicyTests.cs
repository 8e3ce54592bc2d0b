using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Delivery;

/// <summary>
/// Backpressure: what a publish does when a subscription's bounded buffer is full, per <see cref="FullPolicy"/>. Each test first
/// parks event 0 in the gated handler (in flight), then fills the buffer, so buffer states are exact, not timing-dependent.
/// </summary>
public sealed class FullPolicyTests
{
    private const int Capacity = 4;

    [Fact]
    public async Task PublishAsync_WaitPolicyBufferFull_CompletesOnlyAfterHandlerMakesRoom()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait);
        await FillAsync(bus);

        var sixth = bus.Bus.PublishAsync(new Tick(5)).AsTask();

        sixth.IsCompleted.Should().BeFalse("1 event is in flight and 4 are buffered: the buffer is full");
        bus.Snapshot<GatedHandler>().Should().Match<SubscriptionSnapshot>(s => s.Depth == Capacity && s.InFlight == 1);

        bus.Get<Gate<GatedHandler>>().Open();
        await sixth.Within();
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 5);
        bus.Snapshot<GatedHandler>().Dropped.Should().Be(0);
    }

    [Fact]
    public async Task PublishAsync_WaitPolicyCancelledWhileWaiting_ThrowsAndDeliversToNoSubscription()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait, withFreeSubscription: true);
        await FillAsync(bus);
        using var cancellation = new CancellationTokenSource();

        var waiting = bus.Bus.PublishAsync(new Tick(5), cancellation.Token).AsTask();
        waiting.IsCompleted.Should().BeFalse();
        await cancellation.CancelAsync();

        await waiting.Awaiting(t => t.Within()).Should().ThrowAsync<OperationCanceledException>();
        bus.Get<Gate<GatedHandler>>().Open();
        await bus.Bus.PublishAsync(new Tick(6)); // a marker: once it is handled, everything published before it was too
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 6);
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 6);
    }

    [Fact]
    public async Task PublishAsync_FailFastBufferFull_ThrowsBufferFullExceptionAndDoesNotDeliverIt()
    {
        await using var bus = await StartGatedAsync(FullPolicy.FailFast);
        await FillAsync(bus);

        var publish = async () => await bus.Bus.PublishAsync(new Tick(5));

        var thrown = await publish.Should().ThrowAsync<BufferFullException>();
        thrown.Which.Capacity.Should().Be(Capacity);
        thrown.Which.Subscription.Should().Be(typeof(GatedHandler).FullName);
        thrown.Which.Topic.Should().Be(typeof(Tick).FullName);
        bus.Get<Gate<GatedHandler>>().Open();
        await bus.Log<GatedHandler, int>().WaitForCountAsync(5); // drained: a FailFast publish has room again
        await bus.Bus.PublishAsync(new Tick(6));
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 6);
    }

    [Fact]
    public async Task PublishAsync_FailFastSubscriptionFullAndAnotherHasRoom_ReachesNeither()
    {
        await using var bus = await StartGatedAsync(FullPolicy.FailFast, withFreeSubscription: true);
        await FillAsync(bus);

        var publish = async () => await bus.Bus.PublishAsync(new Tick(5));

        await publish.Should().ThrowAsync<BufferFullException>();
        bus.Get<Gate<GatedHandler>>().Open();
        await bus.Log<GatedHandler, int>().WaitForCountAsync(5);
        await bus.Bus.PublishAsync(new Tick(6));
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(6)).Should().Equal([0, 1, 2, 3, 4, 6], "a publish reaches every subscription or none");
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 6);
    }

    [Fact]
    public async Task PublishAsync_DropNewestBufferFull_DropsTheNewMessagesCountsAndReportsThem()
    {
        await using var bus = await StartGatedAsync(FullPolicy.DropNewest, withFreeSubscription: true);
        await FillAsync(bus);

        for (var i = 5; i <= 10; i++)
        {
            bus.Bus.PublishAsync(new Tick(i)).IsCompletedSuccessfully.Should().BeTrue("a drop policy never makes the publisher wait");
        }

        bus.Snapshot<GatedHandler>().Dropped.Should().Be(6);
        var reports = bus.Undelivered.Items;
        reports.Select(r => ((Tick)r.Message).N).Should().Equal(5, 6, 7, 8, 9, 10);
        reports.Should().OnlyContain(r => r.Reason == UndeliveredReason.DroppedNewest && r.Subscription == typeof(GatedHandler).FullName && r.Exception == null);

        bus.Get<Gate<GatedHandler>>().Open();
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(11)).Should().Equal(Enumerable.Range(0, 11), "dropping is per subscription");
        await bus.Log<GatedHandler, int>().WaitForCountAsync(5);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<GatedHandler, int>().Items.Should().Equal(0, 1, 2, 3, 4);
        bus.Snapshot<GatedHandler>().Should().Match<SubscriptionSnapshot>(s => s.Succeeded == 5 && s.Dropped == 6);
        bus.Snapshot<FreeHandler>().Dropped.Should().Be(0);
    }

    [Fact]
    public async Task PublishAsync_DropOldestBufferFull_DropsTheOldestBufferedMessagesCountsAndReportsThem()
    {
        await using var bus = await StartGatedAsync(FullPolicy.DropOldest, withFreeSubscription: true);
        await FillAsync(bus);

        for (var i = 5; i <= 10; i++)
        {
            bus.Bus.PublishAsync(new Tick(i)).IsCompletedSuccessfully.Should().BeTrue("a drop policy never makes the publisher wait");
        }

        bus.Snapshot<GatedHandler>().Dropped.Should().Be(6);
        var reports = bus.Undelivered.Items;
        reports.Select(r => ((Tick)r.Message).N).Should().Equal(1, 2, 3, 4, 5, 6);
        reports.Should().OnlyContain(r => r.Reason == UndeliveredReason.DroppedOldest && r.Subscription == typeof(GatedHandler).FullName && r.Exception == null);

        bus.Get<Gate<GatedHandler>>().Open();
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(11)).Should().Equal(Enumerable.Range(0, 11));
        await bus.Log<GatedHandler, int>().WaitForCountAsync(5);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<GatedHandler, int>().Items.Should().Equal(0, 7, 8, 9, 10);
        bus.Snapshot<GatedHandler>().Should().Match<SubscriptionSnapshot>(s => s.Succeeded == 5 && s.Dropped == 6);
    }

    [Fact]
    public async Task PublishAsync_DropAndOnUndeliveredThrows_PublishSucceedsAndDropIsCounted()
    {
        var calls = 0;
        await using var bus = await TestBus.StartAsync(b => b
            .Configure(o => o.OnUndelivered = _ =>
            {
                Interlocked.Increment(ref calls);
                throw new InvalidOperationException("callback failed");
            })
            .AddEventHandler<Tick, GatedHandler>()
            .ConfigureSubscription<GatedHandler>(o =>
            {
                o.Capacity = Capacity;
                o.FullPolicy = FullPolicy.DropNewest;
            }));
        await FillAsync(bus);

        var publish = async () => await bus.Bus.PublishAsync(new Tick(5));

        await publish.Should().NotThrowAsync("the callback's exception is logged and ignored");
        calls.Should().Be(1);
        bus.Snapshot<GatedHandler>().Dropped.Should().Be(1);
        bus.Get<Gate<GatedHandler>>().Open();
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(5)).Should().Equal(0, 1, 2, 3, 4);
    }

    [Fact]
    public async Task PublishAsync_DefaultPolicy_IsWait()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Tick, FreeHandler>());

        bus.Snapshot<FreeHandler>().FullPolicy.Should().Be(FullPolicy.Wait);
        bus.Snapshot<FreeHandler>().Capacity.Should().Be(1024);
    }

    /// <summary>A bus whose <see cref="GatedHandler"/> has capacity 4 and <paramref name="policy"/>, optionally next to an ungated subscription with plenty of room.</summary>
    private static Task<TestBus> StartGatedAsync(FullPolicy policy, bool withFreeSubscription = false) =>
        TestBus.StartAsync(b =>
        {
            b.AddEventHandler<Tick, GatedHandler>().ConfigureSubscription<GatedHandler>(o =>
            {
                o.Capacity = Capacity;
                o.FullPolicy = policy;
            });
            if (withFreeSubscription)
            {
                b.AddEventHandler<Tick, FreeHandler>().ConfigureSubscription<FreeHandler>(o => o.Capacity = 100);
            }
        });

    /// <summary>Event 0 in flight (the handler waits at the gate), events 1-4 buffered: the gated buffer is exactly full.</summary>
    private static async Task FillAsync(TestBus bus)
    {
        await bus.Bus.PublishAsync(new Tick(0));
        await bus.Log<GatedHandler, string>().WaitForCountAsync(1);
        for (var i = 1; i <= Capacity; i++)
        {
            bus.Bus.PublishAsync(new Tick(i)).IsCompletedSuccessfully.Should().BeTrue("there is room for {0} buffered events", Capacity);
        }
    }

    public sealed record Tick(int N);

    public sealed class GatedHandler(Gate<GatedHandler> gate, Recorder<GatedHandler, string> started, Recorder<GatedHandler, int> handled) : IEventHandler<Tick>
    {
        public async ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add($"started {@event.N}");
            await gate.WaitAsync(cancellationToken);
            handled.Add(@event.N);
        }
    }

    public sealed class FreeHandler(Recorder<FreeHandler, int> handled) : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add(@event.N);
            return default;
        }
    }
}
