using EventBus.Tests.Storage;
using Microsoft.Extensions.Logging;
using System.Diagnostics.Metrics;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Streams;

/// <summary>Retention by count, by age (on a fake clock), both; what it does to groups behind it; and the bound without retention.</summary>
public abstract class RetentionTests
{
    /// <summary>Gets the registration of the stream storage the tests run against (<see cref="StreamStorages"/>).</summary>
    protected abstract Action<IServiceCollection> Storage { get; }

    /// <summary>
    /// Gets a value indicating whether the storage still returns a trimmed record to a reader standing on it (the contract allows
    /// either): the in-memory storage does, within the segment the reader stands on; the list storage frees records at once.
    /// </summary>
    protected virtual bool ReadsTrimmedRecordsWithinItsRun => true;

    private static readonly DateTimeOffset Start = new(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task MaxCount_MoreEventsPublished_KeepsExactlyTheNewest()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 100), Storage);
        await bus.PublishReadingsAsync(0, 1250);

        var info = bus.Streams().GetStreamInfo<Reading>();
        (info.FirstOffset, info.NextOffset, info.RetainedCount).Should().Be((1150L, 1250L, 100L));
        (await StreamLogTests.ReadAllAsync(bus, StreamPosition.First)).Select(e => e.Event.Number).Should().Equal(Enumerable.Range(1150, 100));
    }

    [Fact]
    public async Task MaxAge_ClockAdvances_EventsExpireWhenTheyReachTheAgeWithoutFurtherPublishes()
    {
        var time = new FakeTimeProvider(Start);
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxAge = TimeSpan.FromMinutes(1)), Storage.With(s => s.AddSingleton<TimeProvider>(time)));
        await bus.PublishReadingsAsync(0, 10);
        time.Advance(TimeSpan.FromSeconds(30));
        await bus.PublishReadingsAsync(10, 10);

        time.Advance(TimeSpan.FromSeconds(29));
        Retained(bus).Should().Be((0L, 20L), "nothing is a minute old yet");
        time.Advance(TimeSpan.FromSeconds(1));
        await RetainedAsync(bus, (10L, 20L), "the first ten are a minute old");
        time.Advance(TimeSpan.FromSeconds(30));
        await RetainedAsync(bus, (20L, 20L), "everything expired");
        (await StreamLogTests.ReadAllAsync(bus, StreamPosition.First)).Should().BeEmpty();
    }

    [Fact]
    public async Task MaxCountAndMaxAge_EitherLimitTrims()
    {
        var time = new FakeTimeProvider(Start);
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o =>
        {
            o.MaxCount = 100;
            o.MaxAge = TimeSpan.FromMinutes(1);
        }), Storage.With(s => s.AddSingleton<TimeProvider>(time)));

        await bus.PublishReadingsAsync(0, 50);
        time.Advance(TimeSpan.FromMinutes(1));
        await RetainedAsync(bus, (50L, 50L), "age trimmed all fifty");

        await bus.PublishReadingsAsync(50, 150);
        Retained(bus).Should().Be((100L, 200L), "count keeps the newest hundred");
    }

    [Fact]
    public async Task Retention_TrimsEventsAGroupHadNotRead_ReportsTheSkipInTheLogTheCounterAndTheObservers()
    {
        var time = new FakeTimeProvider(Start);
        var skips = new SkipRecorder();
        var logged = new List<string>();
        await using var bus = await TestBus.StartAsync(
            b => b.AddStream<Reading>(o => o.MaxAge = TimeSpan.FromMinutes(1)),
            Storage.With(s => s.AddSingleton<TimeProvider>(time).AddSingleton<IEventBusObserver>(skips).AddMetrics().AddLogging(l => l.AddProvider(new ListLoggerProvider(logged)))));
        using var skipped = new SkippedCounter(bus.Services);
        await bus.PublishReadingsAsync(0, 1);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var inFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new GroupLog();
        await using var group = await bus.Streams().SubscribeAsync<Reading>("slow", async (r, context, _) =>
        {
            if (r.Number == 0)
            {
                inFirst.TrySetResult();
                await gate.Task;
            }

            await seen.Record(r, context);
        }, o => o.StartPosition = StreamPosition.First);

        // Offsets 1-9 are published while the group holds offset 0, so they are beyond the run of reads it began (a group checks
        // retention between runs): whether its worker sees the handler of offset 0 complete synchronously or not, it next checks
        // retention. (Published before the group read, they would be in that run: a worker descheduled until the handler was
        // released would see it as synchronous and deliver 1-9, trimmed but intact; see the next test.)
        await inFirst.Task.Within();
        await bus.PublishReadingsAsync(1, 9);
        time.Advance(TimeSpan.FromSeconds(30));
        await bus.PublishReadingsAsync(10, 5);
        time.Advance(TimeSpan.FromSeconds(30)); // offsets 0-9 expire while the group holds offset 0

        // The fake clock runs due timers on the thread that advances it, unless another thread is already running them (then
        // that thread runs ours too, a moment later): wait until the trim is visible before the group moves on.
        await Wait.UntilAsync(() => bus.Streams().GetStreamInfo<Reading>().FirstOffset == 10, "retention trimmed offsets 0-9");
        gate.SetResult();
        await seen.WaitForCountAsync(6);

        seen.Offsets.Should().Equal(0, 10, 11, 12, 13, 14);
        skips.Items.Should().ContainSingle().Which.Should().Be(new SkippedEvents(typeof(Reading).FullName!, "slow", 1, 9, "trimmed by retention before the group read them"));
        group.GetSnapshot().Skipped.Should().Be(9);
        skipped.Total.Should().Be(9);
        logged.Should().ContainSingle(l => l.Contains("skipped 9 event(s) from offset 1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Retention_TrimsWhileASynchronousHandlerRuns_TheRunAlreadyReadIsDeliveredAndOnlyTheRestIsSkipped()
    {
        var skips = new SkipRecorder();
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10), Storage.With(s => s.AddSingleton<IEventBusObserver>(skips)));
        await bus.Bus.PublishBatchAsync(Enumerable.Range(0, 5).Select(i => new Reading(i)).ToList());
        using var gate = new ManualResetEventSlim();
        var inFirst = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var seen = new GroupLog();

        // A handler that blocks its thread (it completes synchronously): the group stays in the run of reads it began at head 5.
        await using var group = await bus.Streams().SubscribeAsync<Reading>("blocking", (r, context, _) =>
        {
            if (r.Number == 0)
            {
                inFirst.TrySetResult();
                gate.Wait(Wait.Timeout).Should().BeTrue("the test releases the handler");
            }

            return seen.Record(r, context);
        }, o => o.StartPosition = StreamPosition.First);

        await inFirst.Task.Within();
        await bus.PublishReadingsAsync(5, 20); // head 25: MaxCount 10 keeps 15 to 24, while the group holds offset 0
        gate.Set();
        await seen.WaitForCountAsync(ReadsTrimmedRecordsWithinItsRun ? 15 : 11);

        // Offsets 1 to 4 were trimmed meanwhile, but the group had read the head for them: where the storage still holds them they
        // are delivered, not lost. What it could no longer read is skipped, and reported.
        var (firstSkipped, skipped) = ReadsTrimmedRecordsWithinItsRun ? (5, 10) : (1, 14);
        seen.Offsets.Should().Equal(Enumerable.Range(0, firstSkipped).Concat(Enumerable.Range(15, 10)).Select(o => (long)o));
        skips.Items.Should().ContainSingle().Which.Should().Be(new SkippedEvents(typeof(Reading).FullName!, "blocking", firstSkipped, skipped, "trimmed by retention before the group read them"));
        await Wait.UntilAsync(() => group.GetSnapshot() is { Position: 25, CommittedOffset: 25 } info && info.Skipped == skipped, "the group caught up");
    }

    public static TheoryData<OffsetResetPolicy, long[], long> ResetPolicies => new()
    {
        { OffsetResetPolicy.Earliest, [90, 91, 92, 93, 94, 95, 96, 97, 98, 99], 85 },
        { OffsetResetPolicy.Latest, [100], 95 },
    };

    [Theory]
    [MemberData(nameof(ResetPolicies))]
    public async Task Resubscribe_CommittedOffsetTrimmed_ResetPolicyDecidesWhereToContinueAndTheSkipIsReported(OffsetResetPolicy policy, long[] expected, long skippedCount)
    {
        var skips = new SkipRecorder();
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10), Storage.With(s => s.AddSingleton<IEventBusObserver>(skips)));
        var first = new GroupLog();
        var group = await bus.SubscribeAsync("g", first);
        await bus.PublishReadingsAsync(0, 5);
        await first.WaitForCountAsync(5);
        await group.DisposeAsync();
        await bus.PublishReadingsAsync(5, 95); // retention keeps 90-99; the group committed 5

        var second = new GroupLog();
        await using var resumed = await bus.SubscribeAsync("g", second, o => o.ResetPolicy = policy);
        if (policy == OffsetResetPolicy.Latest)
        {
            await bus.PublishReadingsAsync(100, 1); // (for Earliest, one more publish would trim offset 90 under the group)
        }

        await second.WaitForCountAsync(expected.Length);

        second.Offsets.Should().Equal(expected);
        skips.Items.Should().ContainSingle().Which.Should().Match<SkippedEvents>(s => s.Group == "g" && s.FromOffset == 5 && s.Count == skippedCount);
    }

    [Fact]
    public async Task Resubscribe_CommittedOffsetTrimmedAndPolicyFail_ThrowsWithTheRetainedRange()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10), Storage);
        var group = await bus.SubscribeAsync("g", new GroupLog());
        await bus.PublishReadingsAsync(0, 5);
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == 5, "the group committed");
        await group.DisposeAsync();
        await bus.PublishReadingsAsync(5, 95);

        await bus.Invoking(b => b.SubscribeAsync("g", new GroupLog(), o => o.ResetPolicy = OffsetResetPolicy.Fail).AsTask())
            .Should().ThrowAsync<StreamOffsetOutOfRangeException>().WithMessage("Consumer group 'g' committed offset 5 on stream '*Reading', but the stream retains offsets 90 to 99 only*");
        bus.Streams().GetSubscription<Reading>("g").Should().BeNull();
    }

    [Fact]
    public async Task NoRetention_GroupsKeepUp_MemoryStaysBoundedByTheDefaultHistoryAndOneSegment()
    {
        const int Capacity = 256, Events = 3 * StreamOptions.DefaultHistory;
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(), Storage);
        var log = new GroupLog();
        await using var group = await bus.SubscribeAsync("g", log, o => o.Capacity = Capacity);
        await bus.PublishReadingsAsync(0, Events);
        await log.WaitForCountAsync(Events);

        var info = bus.Streams().GetStreamInfo<Reading>();
        info.NextOffset.Should().Be(Events);
        info.RetainedCount.Should().BeInRange(StreamOptions.DefaultHistory, StreamOptions.DefaultHistory + StreamLog.HistoryStep,
            "without a retention option a caught-up group needs nothing more than the default history (trimmed every 512 events)");
        log.Offsets.Should().Equal(Enumerable.Range(0, Events).Select(i => (long)i));
    }

    [Fact]
    public async Task NoRetentionAndNoGroup_KeepsTheDefaultHistoryForReplay()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(), Storage);
        await bus.PublishReadingsAsync(0, 2000);

        var replayed = await bus.Streams().ReadAsync<Reading>(StreamPosition.First).Select(e => e.Offset).ToListAsync();
        replayed.Should().Equal(Enumerable.Range(0, 2000).Select(i => (long)i), "a stream keeps its newest events for replay by default");

        const int More = 3 * StreamOptions.DefaultHistory;
        await bus.PublishReadingsAsync(2000, More);
        var info = bus.Streams().GetStreamInfo<Reading>();
        info.RetainedCount.Should().BeInRange(StreamOptions.DefaultHistory, StreamOptions.DefaultHistory + StreamLog.HistoryStep,
            "the default history is kept, trimmed every 512 events");
        var first = info.FirstOffset;
        (await bus.Streams().ReadAsync<Reading>(StreamPosition.First).Select(e => e.Offset).ToListAsync())
            .Should().Equal(Enumerable.Range((int)first, (int)(2000 + More - first)).Select(i => (long)i), "a replay reads the whole retained history in order");
    }

    /// <summary>
    /// Waits until the stream retains <paramref name="expected"/>: the fake clock runs a due timer on the thread that advances it,
    /// unless another thread is running the clock's timers at that moment (then that thread runs it, a moment later).
    /// </summary>
    private static async Task RetainedAsync(TestBus bus, (long First, long Next) expected, string because)
    {
        await Wait.UntilAsync(() => Retained(bus) == expected, $"the stream retains [{expected.First}, {expected.Next}): {because}", Wait.Promptly);
        Retained(bus).Should().Be(expected, because);
    }

    private static (long First, long Next) Retained(TestBus bus)
    {
        var info = bus.Streams().GetStreamInfo<Reading>();
        return (info.FirstOffset, info.NextOffset);
    }

    /// <summary>Sums the <c>eventbus.stream.skipped</c> counter of one bus.</summary>
    private sealed class SkippedCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _total;

        public SkippedCounter(IServiceProvider services)
        {
            var factory = services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Name == EventBusTelemetry.SkippedMessages)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _total, value));
            _listener.Start();
        }

        public long Total => Interlocked.Read(ref _total);

        public void Dispose() => _listener.Dispose();
    }

    /// <summary>The tests on the in-memory segmented storage, every stream's default.</summary>
    public sealed class OnSegmentedStorage : RetentionTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.Segmented;
    }

    /// <summary>The tests on the tests' second storage (<see cref="ListStreamStorage"/>).</summary>
    public sealed class OnListStorage : RetentionTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.List;

        protected override bool ReadsTrimmedRecordsWithinItsRun => false;
    }
}
