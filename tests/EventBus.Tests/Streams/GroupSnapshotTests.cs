using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Streams;

/// <summary>
/// Consumer groups in <see cref="IEventBusControl.GetSnapshot"/>: listed with the subscriptions, in their vocabulary, with their
/// counters and their offsets; a subscription's stream values stay empty.
/// </summary>
public sealed class GroupSnapshotTests
{
    private const int Events = 10;

    [Theory]
    [InlineData(1, DeliveryMode.Broadcast)]
    [InlineData(4, DeliveryMode.KeyOrdered)]
    public async Task GetSnapshot_GroupHandledEveryEvent_ListsItAfterTheSubscriptionsOfItsTopicWithExactCountersAndOffsets(int workers, DeliveryMode mode)
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddStream<Reading>(o => o.MaxCount = 1000)
            .AddEventHandler<Reading, StreamLogTests.OffsetRecorder>(ServiceLifetime.Singleton));
        var log = new GroupLog();
        await using var group = await bus.SubscribeAsync("projection", log, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.Workers = workers;
            o.Capacity = 64;
        });

        await bus.PublishReadingsAsync(0, Events);
        await log.WaitForCountAsync(Events);
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == Events, "the group committed every event");
        await bus.Get<StreamLogTests.OffsetRecorder>().Log.WaitForCountAsync(Events);
        await Wait.UntilAsync(() => bus.Snapshot<StreamLogTests.OffsetRecorder>().Succeeded == Events, "the subscription counted every event");

        var snapshot = bus.Control.GetSnapshot();

        snapshot.Select(s => (s.Topic, s.Subscription)).Should().Equal(
            [(typeof(Reading).FullName!, typeof(StreamLogTests.OffsetRecorder).FullName!), (typeof(Reading).FullName!, "projection")],
            "groups are ordered with the subscriptions, by topic, then by name");
        snapshot[1].Should().Be(
            new SubscriptionSnapshot(typeof(Reading).FullName!, "projection", mode, workers, Capacity: 64, FullPolicy.Wait, Depth: 0, InFlight: 0,
                Delivered: Events, Succeeded: Events, Failed: 0, Dropped: 0, Retried: 0, DeadLettered: 0, ScheduledRedeliveries: 0, DeadLetters: 0, SubscriptionState.Running)
            {
                CommittedOffset = Events,
                Position = Events,
                NextOffset = Events,
                Skipped = 0,
            });
        snapshot[1].Lag.Should().Be(0);
        group.GetSnapshot().Should().Be(snapshot[1], "a group's own snapshot is its entry in the bus's snapshot");
    }

    [Fact]
    public async Task GetSnapshot_GroupHoldsAnEvent_ShowsItInFlightAndTheEventsBehindItAsDepthAndLag()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        await bus.PublishReadingsAsync(0, Events);
        var held = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new GroupLog();
        await using var group = await bus.Streams().SubscribeAsync<Reading>("held", async (r, context, _) =>
        {
            if (r.Number == 5)
            {
                held.TrySetResult();
                await gate.Task;
            }

            await log.Record(r, context);
        }, o => o.StartPosition = StreamPosition.First);

        await held.Task.Within();

        var holding = bus.Control.GetSnapshot().Should().ContainSingle().Subject;
        holding.Should().Match<SubscriptionSnapshot>(s => s.Subscription == "held" && s.State == SubscriptionState.Running
            && s.Delivered == 6 && s.Succeeded == 5 && s.InFlight == 1 && s.Depth == 4 && s.Failed == 0 && s.Retried == 0,
            "offsets 0-4 were handled, 5 is in hand and 6-9 wait");
        (holding.CommittedOffset, holding.Position, holding.NextOffset, holding.Lag).Should().Be(((long?)5, (long?)5, (long?)Events, (long?)5));

        gate.SetResult();
        await log.WaitForCountAsync(Events);
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == Events, "the group committed every event");

        bus.Control.GetSnapshot().Should().ContainSingle().Which.Should().Match<SubscriptionSnapshot>(s =>
            s.Delivered == Events && s.Succeeded == Events && s.InFlight == 0 && s.Depth == 0
            && s.CommittedOffset == Events && s.Position == Events && s.NextOffset == Events && s.Lag == 0);
    }

    [Fact]
    public async Task GetSnapshot_Subscription_HasNoStreamValuesEvenOnAStreamTopic()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddStream<Reading>(o => o.MaxCount = 1000)
            .AddEventHandler<Reading, StreamLogTests.OffsetRecorder>(ServiceLifetime.Singleton));
        await bus.PublishReadingsAsync(0, 3);
        await bus.Get<StreamLogTests.OffsetRecorder>().Log.WaitForCountAsync(3);
        await Wait.UntilAsync(() => bus.Snapshot<StreamLogTests.OffsetRecorder>().Succeeded == 3, "the subscription counted every event");

        var subscription = bus.Snapshot<StreamLogTests.OffsetRecorder>();

        (subscription.CommittedOffset, subscription.Position, subscription.NextOffset, subscription.Lag, subscription.Skipped).Should().Be(
            ((long?)null, (long?)null, (long?)null, (long?)null, 0L), "a subscription reads no stream, though its envelopes carry offsets");
        bus.Get<StreamLogTests.OffsetRecorder>().Log.Offsets.Should().Equal(0, 1, 2);
    }

    [Fact]
    public async Task GetSnapshot_GroupDeadLettersAnEvent_CountsItAndShowsTheDeadLettersItKeeps()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        await bus.PublishReadingsAsync(0, 5);
        var log = new GroupLog();
        await using var group = await bus.Streams().SubscribeAsync<Reading>("failing", (r, context, _) =>
            r.Number == 2 ? throw new InvalidOperationException("poison") : log.Record(r, context), o =>
        {
            o.StartPosition = StreamPosition.First;
            o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 };
        });

        await log.WaitForCountAsync(4);
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == 5, "the group committed past the dead-lettered event");

        bus.Control.GetSnapshot().Should().ContainSingle().Which.Should().Match<SubscriptionSnapshot>(s =>
            s.Subscription == "failing" && s.State == SubscriptionState.Running && s.Delivered == 6 && s.Succeeded == 4 && s.Retried == 1
            && s.Failed == 1 && s.DeadLettered == 1 && s.DeadLetters == 1 && s.InFlight == 0 && s.Lag == 0,
            "offset 2 was attempted twice, then dead-lettered, and the group went on");

        bus.Get<IDeadLetterQueue>().Purge().Should().Be(1);
        group.GetSnapshot().Should().Match<SubscriptionSnapshot>(s => s.DeadLetters == 0 && s.DeadLettered == 1, "the count of dead letters kept drops; the counter does not");
    }

    [Fact]
    public async Task GetSnapshot_RegisteredGroup_ListedBeforeStartWithItsBacklogAndAfterStopWithItsFinalFigures()
    {
        await using var bus = TestBus.Build(b => b.AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("registered", o => o.Capacity = 16, ServiceLifetime.Singleton));
        await bus.PublishReadingsAsync(0, 3);

        bus.Control.GetSnapshot().Should().ContainSingle().Which.Should().Match<SubscriptionSnapshot>(s =>
            s.Subscription == "registered" && s.State == SubscriptionState.NotStarted && s.Capacity == 16 && s.Depth == 3 && s.Delivered == 0
            && s.CommittedOffset == 0 && s.Position == 0 && s.NextOffset == 3 && s.Lag == 3,
            "the group joined its stream when the bus was built: what was published since waits for it");

        await bus.Control.StartAsync();
        await bus.Get<StreamLogTests.OffsetRecorder>().Log.WaitForCountAsync(3);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        bus.Control.GetSnapshot().Should().ContainSingle().Which.Should().Match<SubscriptionSnapshot>(s =>
            s.Subscription == "registered" && s.State == SubscriptionState.Stopped && s.Delivered == 3 && s.Succeeded == 3 && s.Depth == 0
            && s.CommittedOffset == 3 && s.Lag == 0, "the stop leaves the groups it stopped in the snapshot, with their final figures");
        bus.Streams().GetStreamInfo<Reading>().Groups.Should().ContainSingle().Which.Should().Match<SubscriptionSnapshot>(s =>
            s.Subscription == "registered" && s.State == SubscriptionState.Stopped && s.CommittedOffset == 3 && s.Capacity == 16);
    }

    [Fact]
    public async Task GetSnapshot_GroupDisposedWhileTheBusRuns_LeavesTheSnapshotAndTheStreamListsItStopped()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        var log = new GroupLog();
        var group = await bus.SubscribeAsync("brief", log, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.Workers = 2;
            o.FullPolicy = FullPolicy.FailFast;
        });
        await bus.PublishReadingsAsync(0, 4);
        await log.WaitForCountAsync(4);

        await group.DisposeAsync();
        await bus.PublishReadingsAsync(4, 2);

        bus.Control.GetSnapshot().Should().BeEmpty("a group disposed while the bus runs leaves the snapshot");
        bus.Streams().GetStreamInfo<Reading>().Groups.Should().ContainSingle().Which.Should().Be(
            new SubscriptionSnapshot(typeof(Reading).FullName!, "brief", DeliveryMode.KeyOrdered, Workers: 2, Capacity: new EventBusOptions().DefaultCapacity,
                FullPolicy.FailFast, Depth: 2, InFlight: 0, Delivered: 0, Succeeded: 0, Failed: 0, Dropped: 0, Retried: 0, DeadLettered: 0,
                ScheduledRedeliveries: 0, DeadLetters: 0, SubscriptionState.Stopped)
            {
                CommittedOffset = 4,
                Position = 4,
                NextOffset = 6,
            },
            "a stopped group keeps its offsets and the options it ran with; its counters went with it");
    }
}
