using System.Collections.Concurrent;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventBus.Tests.Streams;

/// <summary>
/// Groups registered with <see cref="EventBusBuilder.AddStreamGroup{TEvent, THandler}"/> join their stream when the bus is built:
/// events published before the bus starts are kept for them, within their backlog, and delivered once it does; a committed offset
/// that the stream no longer holds, on either side, goes through the reset policy, and what is passed over is reported.
/// </summary>
public sealed class RegisteredGroupTests
{
    [Fact]
    public async Task RegisteredGroup_ThreeThousandEventsPublishedBeforeStart_AllDeliveredInOrder()
    {
        const int Events = 3000;
        var skips = new SkipRecorder();
        await using var bus = TestBus.Build(
            b => b
                .AddStream<Reading>()
                .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("projection", g =>
                {
                    g.StartPosition = StreamPosition.First;
                    g.Capacity = 10_000;
                }, ServiceLifetime.Singleton),
            s => s.AddSingleton<IEventBusObserver>(skips));

        await bus.PublishReadingsAsync(0, Events);
        await bus.Control.StartAsync();
        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync(Events);

        log.Offsets.Should().Equal(Enumerable.Range(0, Events).Select(i => (long)i));
        log.Numbers.Should().Equal(Enumerable.Range(0, Events));
        skips.Items.Should().BeEmpty();
        await Wait.UntilAsync(() => Group(bus, "projection").CommittedOffset == Events, "the group committed everything");
    }

    [Theory]
    [InlineData("First")]
    [InlineData("Next")]
    [InlineData("Last")]
    public async Task RegisteredGroup_StartPositionOfTheBuild_EventsPublishedBeforeStartReachIt(string kind)
    {
        var position = kind switch
        {
            "First" => StreamPosition.First,
            "Last" => StreamPosition.Last,
            _ => StreamPosition.Next,
        };
        await using var bus = TestBus.Build(b => b
            .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", g => g.StartPosition = position, ServiceLifetime.Singleton));

        await bus.PublishReadingsAsync(0, 700);
        await bus.Control.StartAsync();
        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync(700);

        log.Offsets.Should().Equal(Enumerable.Range(0, 700).Select(i => (long)i), "the stream was empty when the group joined it, at the build");
    }

    [Fact]
    public async Task RegisteredGroup_StartPositionAtOffset_ResolvedWhenTheBusStarts()
    {
        await using var bus = TestBus.Build(b => b
            .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", g => g.StartPosition = StreamPosition.AtOffset(600), ServiceLifetime.Singleton));

        await bus.PublishReadingsAsync(0, 700);
        await bus.Control.StartAsync();
        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync(100);

        log.Offsets.Should().Equal(Enumerable.Range(600, 100).Select(i => (long)i));
    }

    [Fact]
    public async Task RegisteredGroup_ResumedInANewBusWithASharedOffsetStore_GoesOnAtItsCommittedOffset()
    {
        var store = new SharedOffsetStore();
        await store.SaveAsync(typeof(Reading).FullName!, "projection", 500, CancellationToken.None); // where an earlier bus stopped
        var skips = new SkipRecorder();
        await using var bus = TestBus.Build(
            b => b.AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("projection", g => g.StartPosition = StreamPosition.First, ServiceLifetime.Singleton),
            s => s.AddSingleton<IStreamOffsetStore>(store).AddSingleton<IEventBusObserver>(skips));

        await bus.PublishReadingsAsync(0, 1000);
        await bus.Control.StartAsync();
        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync(500);
        await Wait.UntilAsync(() => store.Read("projection") == 1000, "the group committed the last event");

        log.Offsets.Should().Equal(Enumerable.Range(500, 500).Select(i => (long)i), "offsets 500 to 511 are still in the stream");
        skips.Items.Should().BeEmpty();
    }

    [Fact]
    public async Task RegisteredGroup_FailFastBacklogBeforeStart_RefusesWhatExceedsItsCapacity()
    {
        await using var bus = TestBus.Build(b => b
            .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", g =>
            {
                g.Capacity = 100;
                g.FullPolicy = FullPolicy.FailFast;
            }, ServiceLifetime.Singleton));

        await bus.PublishReadingsAsync(0, 100);
        var refused = async () => await bus.Bus.PublishAsync(new Reading(100));

        (await refused.Should().ThrowAsync<BufferFullException>()).Which.Message.Should().Contain("'g'");
        await bus.Control.StartAsync();
        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync(100);
        log.Offsets.Should().Equal(Enumerable.Range(0, 100).Select(i => (long)i));
    }

    [Fact]
    public async Task RegisteredGroup_WaitBacklogFullBeforeStart_PublisherWaitsUntilTheBusStarts()
    {
        await using var bus = TestBus.Build(b => b
            .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", g => g.Capacity = 10, ServiceLifetime.Singleton));
        await bus.PublishReadingsAsync(0, 10);

        var waiting = bus.Bus.PublishAsync(new Reading(10)).AsTask();
        waiting.IsCompleted.Should().BeFalse("the group's backlog is full: the publisher waits, nothing is dropped");
        await bus.Control.StartAsync();
        await waiting.Within();

        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync(11);
        log.Offsets.Should().Equal(Enumerable.Range(0, 11).Select(i => (long)i));
    }

    [Fact]
    public async Task RegisteredGroup_RetentionTrimsBeforeStart_TheGapIsReportedAsSkipped()
    {
        var skips = new SkipRecorder();
        await using var bus = TestBus.Build(
            b => b
                .AddStream<Reading>(s => s.MaxCount = 100)
                .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", g =>
                {
                    g.StartPosition = StreamPosition.First;
                    g.Capacity = 1000;
                }, ServiceLifetime.Singleton),
            s => s.AddSingleton<IEventBusObserver>(skips));

        await bus.PublishReadingsAsync(0, 300);
        await bus.Control.StartAsync();
        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync(100);

        log.Offsets.Should().Equal(Enumerable.Range(200, 100).Select(i => (long)i));
        skips.Items.Select(s => (s.Group, s.FromOffset, s.Count)).Should().Equal(("g", 0L, 200L));
        Group(bus, "g").Skipped.Should().Be(200);
    }

    [Fact]
    public async Task RegisteredGroup_RetentionTrimsBeforeStartAndResetPolicyFail_TheGroupDoesNotStartAndOthersDo()
    {
        await using var bus = TestBus.Build(b => b
            .AddStream<Reading>(s => s.MaxCount = 100)
            .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("strict", g =>
            {
                g.ResetPolicy = OffsetResetPolicy.Fail;
                g.Capacity = 1000;
            }, ServiceLifetime.Singleton)
            .AddStreamGroup<Reading, OtherRecorder>("lenient", g => g.Capacity = 1000, ServiceLifetime.Singleton));

        await bus.PublishReadingsAsync(0, 300);
        await bus.Control.StartAsync();
        var other = bus.Get<OtherRecorder>().Log;
        await other.WaitForCountAsync(100);

        bus.Streams().GetSubscription<Reading>("strict").Should().BeNull("a group that cannot start leaves its stream");
        bus.Get<StreamLogTests.OffsetRecorder>().Log.Count.Should().Be(0);
        await bus.PublishReadingsAsync(300, 2000).Within(); // the group that left holds nothing back
        await Wait.UntilAsync(() => Group(bus, "lenient").CommittedOffset == 2300, "the other group read to the head");
        Group(bus, "strict").Should().Match<SubscriptionSnapshot>(g => g.State == SubscriptionState.Stopped && g.CommittedOffset == 0, "the strict group never started");
    }

    [Theory]
    [InlineData(OffsetResetPolicy.Earliest, 0)]
    [InlineData(OffsetResetPolicy.Latest, 100)]
    public async Task RegisteredGroup_StoredOffsetBeyondTheHead_ResetPolicyDecides(OffsetResetPolicy policy, long expectedStart)
    {
        var store = new SharedOffsetStore();
        await store.SaveAsync(typeof(Reading).FullName!, "g", 500, CancellationToken.None);
        var logs = new List<string>();
        await using var bus = TestBus.Build(
            b => b.AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", g => g.ResetPolicy = policy, ServiceLifetime.Singleton),
            s => s.AddSingleton<IStreamOffsetStore>(store).AddLogging(l => l.AddProvider(new ListLoggerProvider(logs))));
        await bus.PublishReadingsAsync(0, 100);

        await bus.Control.StartAsync();
        await bus.PublishReadingsAsync(100, 5);
        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync((int)(105 - expectedStart));

        log.Offsets.Should().Equal(Enumerable.Range((int)expectedStart, (int)(105 - expectedStart)).Select(i => (long)i));
        lock (logs)
        {
            logs.Should().ContainSingle(m => m.StartsWith("Warning CommittedOffsetBeyondHead:", StringComparison.Ordinal))
                .Which.Should().Contain("committed offset 500, beyond the stream's head 100").And.Contain($"starts it at offset {expectedStart}");
        }
    }

    [Fact]
    public async Task Subscribe_StoredOffsetBeyondTheHeadAndResetPolicyFail_Throws()
    {
        var store = new SharedOffsetStore();
        await store.SaveAsync(typeof(Reading).FullName!, "g", 500, CancellationToken.None);
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(), s => s.AddSingleton<IStreamOffsetStore>(store));
        await bus.PublishReadingsAsync(0, 100);

        var subscribe = async () => await bus.SubscribeAsync("g", new GroupLog(), o => o.ResetPolicy = OffsetResetPolicy.Fail);

        (await subscribe.Should().ThrowAsync<StreamOffsetOutOfRangeException>()).Which.Message.Should()
            .Contain("committed offset 500").And.Contain("beyond the stream's head (100)");
        store.Read("g").Should().Be(500, "a refused group's stored offset is left as it was");
    }

    [Fact]
    public async Task RegisteredGroup_SeekBeforeStart_StartsWhereItWasSought()
    {
        await using var bus = TestBus.Build(b => b
            .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", g => g.StartPosition = StreamPosition.First, ServiceLifetime.Singleton));
        await bus.PublishReadingsAsync(0, 50);

        var group = bus.Streams().GetSubscription<Reading>("g");
        group.Should().NotBeNull("a registered group is known from the build");
        (await bus.Streams().SeekAsync<Reading>("g", StreamPosition.AtOffset(40))).Should().Be(40);
        await bus.Control.StartAsync();
        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync(10);

        log.Offsets.Should().Equal(Enumerable.Range(40, 10).Select(i => (long)i));
    }

    [Fact]
    public async Task Subscribe_NameOfARegisteredGroup_ThrowsNamingTheRegistration()
    {
        await using var bus = TestBus.Build(b => b.AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g"));

        var subscribe = async () => await bus.SubscribeAsync("g", new GroupLog());

        (await subscribe.Should().ThrowAsync<InvalidOperationException>()).Which.Message.Should().Contain("registered on stream").And.Contain("AddStreamGroup");
    }

    [Fact]
    public async Task StopAsync_GroupBehindItsStream_ReportedAsLagNotAsUndeliveredMessages()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .Configure(o => o.StopTimeout = TimeSpan.FromMilliseconds(200))
            .AddStreamGroup<Reading, GatedRecorder>("slow", g => g.StartPosition = StreamPosition.First));
        await bus.PublishReadingsAsync(0, 20);
        await bus.Get<Recorder<GatedRecorder, long>>().WaitForCountAsync(1);

        var report = await bus.Control.StopAsync().Within(); // the gate never opens: the group is cut short on offset 0

        report.Drained.Should().BeFalse();
        report.Unfinished.Should().BeEmpty("a group's unread events stay in its stream");
        report.LaggingGroups.Should().ContainSingle().Which.Should().Match<SubscriptionSnapshot>(g =>
            g.Subscription == "slow" && g.CommittedOffset == 0 && g.NextOffset == 20 && g.Lag == 20);
        bus.Undelivered.Items.Should().BeEmpty();
        report.ToString().Should().Contain("1 consumer group(s) behind");
    }

    [Fact]
    public async Task StopAsync_BusNeverStarted_RegisteredGroupsReportTheirLagAndLeave()
    {
        await using var bus = TestBus.Build(b => b.AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g"));
        await bus.PublishReadingsAsync(0, 30);

        var report = await bus.Control.StopAsync().Within();

        report.Unfinished.Should().BeEmpty();
        report.LaggingGroups.Select(g => (g.Subscription, g.CommittedOffset, g.Lag)).Should().Equal(("g", (long?)0, (long?)30));
        bus.Undelivered.Items.Should().BeEmpty();
        Group(bus, "g").State.Should().Be(SubscriptionState.Stopped);
    }

    [Fact]
    public async Task StopAsync_GroupsCaughtUp_ReportHasNoLaggingGroups()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", lifetime: ServiceLifetime.Singleton));
        await bus.PublishReadingsAsync(0, 30);

        var report = await bus.Control.StopAsync().Within();

        report.Drained.Should().BeTrue();
        report.LaggingGroups.Should().BeEmpty();
        bus.Get<StreamLogTests.OffsetRecorder>().Log.Count.Should().Be(30);
    }

    private static SubscriptionSnapshot Group(TestBus bus, string name) =>
        bus.Streams().GetStreamInfo<Reading>().Groups.Single(g => g.Subscription == name);

    public sealed class OtherRecorder : IEventHandler<Reading>
    {
        public GroupLog Log { get; } = new();

        public ValueTask HandleAsync(Reading message, MessageContext context, CancellationToken cancellationToken) => Log.Record(message, context);
    }

    /// <summary>Records the offset it takes in hand, then waits for a gate that the tests never open.</summary>
    public sealed class GatedRecorder(Gate<GatedRecorder> gate, Recorder<GatedRecorder, long> started) : IEventHandler<Reading>
    {
        public async ValueTask HandleAsync(Reading message, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add(context.Offset!.Value);
            await gate.WaitAsync(cancellationToken);
        }
    }

    /// <summary>An offset store that outlives one bus: what a durable store does across restarts.</summary>
    public sealed class SharedOffsetStore : IStreamOffsetStore
    {
        private readonly ConcurrentDictionary<(string Topic, string Group), long> _offsets = new();

        public long? Read(string group) => _offsets.TryGetValue((typeof(Reading).FullName!, group), out var offset) ? offset : null;

        public ValueTask<long?> LoadAsync(string topic, string group, CancellationToken cancellationToken) =>
            new(_offsets.TryGetValue((topic, group), out var offset) ? offset : null);

        public ValueTask SaveAsync(string topic, string group, long offset, CancellationToken cancellationToken)
        {
            _offsets[(topic, group)] = offset;
            return default;
        }
    }
}
