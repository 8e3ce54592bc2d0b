using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Delivery;

/// <summary>
/// The guarantees broadcast, queue and key-ordered subscriptions share, written once and run for each mode by a sealed subclass
/// (as the Channels tests run one suite per channel kind). Every handler registered here goes through <see cref="ConfigureMode{THandler}"/>.
/// A pull subscription put beside the mode's subscriptions is held to what fits it (every event exactly once, drained or reported by
/// the stop); the handler-side guarantees (failures, scopes, cancellation in flight) have no counterpart there, since the bus runs
/// no code of its readers.
/// </summary>
public abstract class DeliveryContractTests
{
    /// <summary>The name of the pull subscription that the contract puts beside the mode's subscriptions.</summary>
    protected const string Pulled = "pulled";

    /// <summary>Gets the mode the subclass configures.</summary>
    protected abstract DeliveryMode Mode { get; }

    /// <summary>Gets the number of workers per subscription the subclass configures.</summary>
    protected abstract int Workers { get; }

    /// <summary>Puts <typeparamref name="THandler"/>'s subscription in the mode under test.</summary>
    protected abstract void ConfigureMode<THandler>(EventBusBuilder builder)
        where THandler : class;

    [Fact]
    public async Task GetSnapshot_EverySubscription_ReportsConfiguredModeAndWorkers()
    {
        await using var bus = await StartAsync(b => Subscribe<ItemHandler<SecondTag>>(Subscribe<ItemHandler<FirstTag>>(b)));

        var snapshots = bus.Control.GetSnapshot();

        snapshots.Select(s => s.Subscription).Should().BeEquivalentTo(typeof(ItemHandler<FirstTag>).FullName, typeof(ItemHandler<SecondTag>).FullName);
        snapshots.Should().AllSatisfy(s =>
        {
            s.Topic.Should().Be(typeof(Item).FullName);
            s.Mode.Should().Be(Mode);
            s.Workers.Should().Be(Workers);
        });
    }

    [Fact]
    public async Task PublishAsync_HandlersSucceed_EveryEventHandledExactlyOncePerSubscription()
    {
        const int Events = 2_000;
        await using var bus = await StartAsync(b => Subscribe<ItemHandler<SecondTag>>(Subscribe<ItemHandler<FirstTag>>(b)));

        for (var i = 0; i < Events; i++)
        {
            await PublishAsync(bus, new Item(i));
        }

        await bus.Log<ItemHandler<FirstTag>, int>().WaitForCountAsync(Events);
        await bus.Log<ItemHandler<SecondTag>, int>().WaitForCountAsync(Events);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        // After the drain nothing more can arrive: exactly once means exactly these items, no duplicates.
        bus.Log<ItemHandler<FirstTag>, int>().Items.Should().BeEquivalentTo(Enumerable.Range(0, Events));
        bus.Log<ItemHandler<SecondTag>, int>().Items.Should().BeEquivalentTo(Enumerable.Range(0, Events));
        foreach (var snapshot in bus.Control.GetSnapshot())
        {
            snapshot.Delivered.Should().Be(Events);
            snapshot.Succeeded.Should().Be(Events);
            snapshot.Failed.Should().Be(0);
            snapshot.Dropped.Should().Be(0);
        }

        bus.Undelivered.Count.Should().Be(0);
    }

    [Fact]
    public async Task PublishAsync_HandlerThrows_OtherSubscriptionsAndLaterEventsStillHandledAndFailureCountedAndReported()
    {
        const int Events = 300;
        var failing = Enumerable.Range(0, Events).Where(FailingHandler.Fails).ToArray();
        await using var bus = await StartAsync(b => Subscribe<ItemHandler<SecondTag>>(Subscribe<FailingHandler>(b)));

        for (var i = 0; i < Events; i++)
        {
            await PublishAsync(bus, new Item(i));
        }

        await bus.Log<ItemHandler<SecondTag>, int>().WaitForCountAsync(Events);
        await bus.Log<FailingHandler, int>().WaitForCountAsync(Events);
        await bus.Undelivered.WaitForCountAsync(failing.Length);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        bus.Log<ItemHandler<SecondTag>, int>().Items.Should().BeEquivalentTo(Enumerable.Range(0, Events));
        bus.Log<FailingHandler, int>().Items.Should().BeEquivalentTo(Enumerable.Range(0, Events), "the failing handler still gets every later event");

        var failed = bus.Snapshot<FailingHandler>();
        failed.Failed.Should().Be(failing.Length);
        failed.Succeeded.Should().Be(Events - failing.Length);
        failed.Delivered.Should().Be(Events);
        bus.Snapshot<ItemHandler<SecondTag>>().Failed.Should().Be(0);

        var reports = bus.Undelivered.Items;
        reports.Should().HaveCount(failing.Length);
        reports.Should().AllSatisfy(r =>
        {
            r.Reason.Should().Be(UndeliveredReason.HandlerFailed);
            r.Subscription.Should().Be(typeof(FailingHandler).FullName);
            r.Topic.Should().Be(typeof(Item).FullName);
            r.Exception.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be($"boom {((Item)r.Message).N}");
            r.Context.Subscription.Should().Be(typeof(FailingHandler).FullName);
        });
        reports.Select(r => ((Item)r.Message).N).Should().BeEquivalentTo(failing);
    }

    [Fact]
    public async Task PublishAsync_ScopedHandler_EachDeliveryHasItsOwnScopeDisposedAfterIt()
    {
        const int Events = 100;
        await using var bus = await StartAsync(b => Subscribe<ScopeHandler>(b));

        for (var i = 0; i < Events; i++)
        {
            await PublishAsync(bus, new Item(i));
        }

        var seen = await bus.Log<ScopeHandler, (int ProbeId, bool DisposedDuringDelivery)>().WaitForCountAsync(Events);
        var tracker = bus.Get<ProbeTracker>();
        var disposed = await tracker.Disposed.WaitForCountAsync(Events);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        seen.Should().HaveCount(Events);
        seen.Select(s => s.ProbeId).Should().OnlyHaveUniqueItems("every delivery gets a new scope");
        seen.Should().OnlyContain(s => !s.DisposedDuringDelivery);
        tracker.Disposed.Items.Should().BeEquivalentTo(seen.Select(s => s.ProbeId), "each scope is disposed exactly once, after its delivery");
        disposed.Should().HaveCount(Events);
    }

    [Fact]
    public async Task StopAsync_EventsBufferedAndInFlight_DrainsThemBeforeReturning()
    {
        const int Events = 2_000;
        await using var bus = await StartAsync(b => Subscribe<YieldingHandler>(b));

        for (var i = 0; i < Events; i++)
        {
            await PublishAsync(bus, new Item(i));
        }

        var report = await bus.Control.StopAsync();

        report.Drained.Should().BeTrue();
        report.Unfinished.Should().BeEmpty();
        bus.Log<YieldingHandler, int>().Items.Should().BeEquivalentTo(Enumerable.Range(0, Events), "the stop waited for every buffered event");
        bus.Snapshot<YieldingHandler>().Should().Match<SubscriptionSnapshot>(s => s.Depth == 0 && s.InFlight == 0 && s.Succeeded == Events);
    }

    [Fact]
    public async Task PublishAsync_AfterStop_ThrowsObjectDisposedException()
    {
        await using var bus = await StartAsync(b => Subscribe<ItemHandler<FirstTag>>(b));
        await bus.Bus.PublishAsync(new Item(1));
        await bus.Control.StopAsync();

        var publish = async () => await bus.Bus.PublishAsync(new Item(2));
        var batch = async () => await bus.Bus.PublishBatchAsync([new Item(3)]);

        await publish.Should().ThrowAsync<ObjectDisposedException>();
        await batch.Should().ThrowAsync<ObjectDisposedException>();
        bus.Log<ItemHandler<FirstTag>, int>().Items.Should().Equal(1);
    }

    [Fact]
    public async Task PublishAsync_AfterWorkersWentIdle_SingleEventHandledPromptly()
    {
        // Lost wake-up: a worker parked on an empty buffer must wake for one new event, with nothing else to nudge it.
        const int Rounds = 5;
        await using var bus = await StartAsync(b => Subscribe<ItemHandler<FirstTag>>(b));
        var log = bus.Log<ItemHandler<FirstTag>, int>();

        for (var round = 1; round <= Rounds; round++)
        {
            await bus.WaitUntilIdleAsync();

            await PublishAsync(bus, new Item(round));

            await log.WaitForCountAsync(round, Wait.Promptly);
        }

        log.Items.Should().BeEquivalentTo(Enumerable.Range(1, Rounds));
    }

    [Fact]
    public async Task StopAsync_TimeoutExpiresWithHandlersBlocked_ReportsInFlightAsCancelledAndBufferedAsNotStarted()
    {
        const int Quick = 3, Blocked = 10;
        await using var bus = await StartAsync(
            b => Subscribe<BlockingHandler>(b).Configure(o => o.StopTimeout = TimeSpan.FromMilliseconds(200)));
        var handled = bus.Log<BlockingHandler, int>();
        var started = bus.Get<Recorder<BlockingHandler, (int N, bool Blocking)>>();

        // Some events finish normally first.
        for (var i = 0; i < Quick; i++)
        {
            await PublishAsync(bus, new Item(i));
        }

        await handled.WaitForCountAsync(Quick);

        // Then every worker blocks (honouring the token) and the rest stay buffered.
        for (var i = BlockingHandler.BlockFrom; i < BlockingHandler.BlockFrom + Blocked; i++)
        {
            await PublishAsync(bus, new Item(i));
        }

        var inFlight = (await started.WaitForCountAsync(Quick + Workers)).Where(s => s.Blocking).Select(s => s.N).ToArray();
        inFlight.Should().HaveCount(Workers);

        var report = await bus.Control.StopAsync();

        report.Drained.Should().BeFalse();
        report.Unfinished.Should().HaveCount(Blocked);
        report.Unfinished.Should().OnlyContain(u => u.Subscription == typeof(BlockingHandler).FullName);
        report.Unfinished.Where(u => u.Reason == UndeliveredReason.CancelledByStop).Select(u => ((Item)u.Message).N)
            .Should().BeEquivalentTo(inFlight, "the messages in the handler when the timeout expired were cancelled");
        report.Unfinished.Where(u => u.Reason == UndeliveredReason.NotStartedBeforeStop).Select(u => ((Item)u.Message).N)
            .Should().BeEquivalentTo(Enumerable.Range(BlockingHandler.BlockFrom, Blocked).Except(inFlight), "the buffered messages were never started");
        (handled.Count + report.Unfinished.Count).Should().Be(Quick + Blocked, "every published event is either handled or reported unfinished");
        bus.Undelivered.Items.Should().BeEquivalentTo(report.Unfinished, "unfinished messages are also reported to OnUndelivered");
    }

    [Fact]
    public async Task PublishAsync_PullSubscriptionBesideTheModesSubscription_EachReceivesEveryEventExactlyOnce()
    {
        const int Events = 1_000;
        await using var bus = await StartAsync(b => Subscribe<ItemHandler<FirstTag>>(b).AddPullSubscription<Item>(Pulled, o => o.Capacity = 16));
        var reader = bus.Bus.GetReader<Item>(Pulled);
        var reading = Task.Run(async () =>
        {
            var read = new List<int>();
            await foreach (var item in reader.ReadAllAsync())
            {
                read.Add(item.Event.N);
            }

            return read;
        });

        for (var i = 0; i < Events; i++)
        {
            await PublishAsync(bus, new Item(i));
        }

        await bus.Log<ItemHandler<FirstTag>, int>().WaitForCountAsync(Events);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue("the stop waits for the reader as it waits for the handlers");

        (await reading.Within()).Should().Equal(Enumerable.Range(0, Events), "one reader takes the events in the topic's order");
        bus.Log<ItemHandler<FirstTag>, int>().Items.Should().BeEquivalentTo(Enumerable.Range(0, Events));
        bus.Control.GetSnapshot().Single(s => s.Subscription == Pulled).Should().Match<SubscriptionSnapshot>(s => s.Delivered == Events && s.Succeeded == Events && s.Dropped == 0 && s.Depth == 0);
        bus.Undelivered.Count.Should().Be(0);
    }

    [Fact]
    public async Task StopAsync_TimeoutExpiresWithUnreadPullEvents_DrainsTheModesSubscriptionAndReportsTheUnreadNotStarted()
    {
        const int Events = 10;
        await using var bus = await StartAsync(b => Subscribe<ItemHandler<FirstTag>>(b)
            .AddPullSubscription<Item>(Pulled)
            .Configure(o => o.StopTimeout = TimeSpan.FromMilliseconds(200)));

        for (var i = 0; i < Events; i++)
        {
            await PublishAsync(bus, new Item(i));
        }

        await bus.Log<ItemHandler<FirstTag>, int>().WaitForCountAsync(Events);
        var report = await bus.Control.StopAsync();

        report.Drained.Should().BeFalse();
        report.Unfinished.Should().HaveCount(Events).And.OnlyContain(u => u.Subscription == Pulled && u.Reason == UndeliveredReason.NotStartedBeforeStop);
        report.Unfinished.Select(u => ((Item)u.Message).N).Should().Equal(Enumerable.Range(0, Events), "nobody read them; they are reported in the topic's order");
        bus.Log<ItemHandler<FirstTag>, int>().Items.Should().BeEquivalentTo(Enumerable.Range(0, Events), "the handler's subscription drained");
        await bus.Bus.GetReader<Item>(Pulled).Completion.Within();
    }

    /// <summary>Publishes one event the way the subclass publishes: <see cref="IEventBus.PublishAsync{TEvent}(TEvent, CancellationToken)"/> unless it says otherwise.</summary>
    protected virtual ValueTask PublishAsync(TestBus bus, Item item) => bus.Bus.PublishAsync(item);

    /// <summary>Starts a bus; <paramref name="configure"/> registers handlers with <see cref="Subscribe{THandler}"/>.</summary>
    protected static Task<TestBus> StartAsync(Action<EventBusBuilder> configure) => TestBus.StartAsync(configure);

    /// <summary>Registers <typeparamref name="THandler"/> for <see cref="Item"/> in the mode under test.</summary>
    protected EventBusBuilder Subscribe<THandler>(EventBusBuilder builder)
        where THandler : class, IEventHandler<Item>
    {
        builder.AddEventHandler<Item, THandler>();
        ConfigureMode<THandler>(builder);
        return builder;
    }

    public sealed record Item(int N);

    /// <summary>Records what it handles; each <typeparamref name="TTag"/> is a handler type of its own, hence a subscription of its own.</summary>
    public sealed class ItemHandler<TTag>(Recorder<ItemHandler<TTag>, int> log) : IEventHandler<Item>
    {
        public ValueTask HandleAsync(Item @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event.N);
            return default;
        }
    }

    public sealed class FirstTag;

    public sealed class SecondTag;

    /// <summary>Throws for every third event (synchronously or asynchronously, alternating), after recording the attempt.</summary>
    public sealed class FailingHandler(Recorder<FailingHandler, int> attempts) : IEventHandler<Item>
    {
        public static bool Fails(int n) => n % 3 == 0;

        public async ValueTask HandleAsync(Item @event, MessageContext context, CancellationToken cancellationToken)
        {
            attempts.Add(@event.N);
            if (@event.N % 2 == 0)
            {
                await Task.Yield();
            }

            if (Fails(@event.N))
            {
                throw new InvalidOperationException($"boom {@event.N}");
            }
        }
    }

    public sealed class ScopeHandler(ScopedProbe probe, Recorder<ScopeHandler, (int ProbeId, bool DisposedDuringDelivery)> log) : IEventHandler<Item>
    {
        public async ValueTask HandleAsync(Item @event, MessageContext context, CancellationToken cancellationToken)
        {
            await Task.Yield();
            log.Add((probe.Id, probe.IsDisposed));
        }
    }

    public sealed class YieldingHandler(Recorder<YieldingHandler, int> log) : IEventHandler<Item>
    {
        public async ValueTask HandleAsync(Item @event, MessageContext context, CancellationToken cancellationToken)
        {
            await Task.Yield();
            log.Add(@event.N);
        }
    }

    /// <summary>Handles events below <see cref="BlockFrom"/> at once; blocks on a gate nobody opens for the others, honouring the token.</summary>
    public sealed class BlockingHandler(Gate<BlockingHandler> never, Recorder<BlockingHandler, (int N, bool Blocking)> started, Recorder<BlockingHandler, int> handled) : IEventHandler<Item>
    {
        public const int BlockFrom = 100;

        public async ValueTask HandleAsync(Item @event, MessageContext context, CancellationToken cancellationToken)
        {
            var blocking = @event.N >= BlockFrom;
            started.Add((@event.N, blocking));
            if (blocking)
            {
                await never.WaitAsync(cancellationToken);
            }

            handled.Add(@event.N);
        }
    }
}
