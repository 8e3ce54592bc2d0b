using EventBus.Tests.Storage;
using System.Globalization;
using System.Text;
using CsCheck;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Streams;

/// <summary>
/// Model-based property test of a stream across the life of its buses: registered consumer groups (<see cref="EventBusBuilder.AddStreamGroup{TEvent, THandler}"/>)
/// sharing one offset store over several buses in a row, each bus built, fed before it starts, started or not, its groups stopped
/// part-way or caught up, then stopped. Retention is off (the default history) or <see cref="StreamOptions.MaxCount"/>.
/// A plain model predicts, exactly: every publish refused by a full backlog, the retained range and a replay of it, where each
/// group starts (its committed offset, its start position, or its reset policy's choice when the offset is out of range on either
/// side), every event each group handles, every skip reported, each group's offsets, the stop report's lagging groups, and the
/// offsets stored for the next bus.
/// </summary>
/// <remarks>
/// Control: events are published only before a bus starts, so retention never races a reader. Each group's handler handles its
/// budget of events, then holds the next one until the stop cancels it (the stop timeout is zero); the test waits until every
/// group holds its event or has caught up before it stops the bus. So every outcome is exact. A failure prints the scenario
/// (shrunk by CsCheck) and the seed that replays it.
/// </remarks>
[Collection(nameof(StreamModelCollection))]
public abstract class StreamLifecycleModelTests
{
    /// <summary>Gets the registration of the stream storage the tests run against (<see cref="StreamStorages"/>).</summary>
    protected abstract Action<IServiceCollection> Storage { get; }

    private const int Iterations = 100;
    private const int WaitCapacity = 1_000_000;

    private static readonly Gen<StreamPosition> GenPosition = Gen.Frequency(
        (2, Gen.Const(StreamPosition.First)),
        (2, Gen.Const(StreamPosition.Next)),
        (1, Gen.Const(StreamPosition.Last)),
        (2, Gen.Int[0, 4000].Select(o => StreamPosition.AtOffset(o))));

    private static readonly Gen<GroupSpec> GenGroup = Gen.Select(
        GenPosition,
        Gen.Frequency((3, Gen.Const(OffsetResetPolicy.Earliest)), (2, Gen.Const(OffsetResetPolicy.Latest)), (1, Gen.Const(OffsetResetPolicy.Fail))),
        Gen.Frequency((2, Gen.Const(0)), (1, Gen.Int[1, 3000])),
        (start, reset, failFastCapacity) => new GroupSpec(start, reset, failFastCapacity == 0 ? WaitCapacity : failFastCapacity, failFastCapacity == 0 ? FullPolicy.Wait : FullPolicy.FailFast));

    private static readonly Gen<Publish> GenPublish = Gen.Select(
        Gen.Frequency((3, Gen.Int[0, 300]), (2, Gen.Int[300, 3000]), (1, Gen.Int[9_000, 13_000])),
        Gen.Frequency((2, Gen.Const(1)), (1, Gen.Int[2, 600])),
        (count, batch) => new Publish(count, batch));

    private static readonly Gen<Generation> GenGeneration = Gen.Select(
        Gen.Bool.Array[2],
        GenPublish.Array[1, 3],
        Gen.Frequency((4, Gen.Const(true)), (1, Gen.Const(false))),
        Gen.Frequency((2, Gen.Const(int.MaxValue)), (2, Gen.Int[0, 600]), (1, Gen.Int[600, 12_000])).Array[2],
        (registered, publishes, start, budgets) => new Generation(registered, publishes, start, budgets));

    private static readonly Gen<Scenario> GenScenario = Gen.Select(
        Gen.Frequency((1, Gen.Int[0, 0].Select(_ => (int?)null)), (1, Gen.Int[50, 3000].Select(m => (int?)m))),
        GenGroup.Array[2],
        GenGeneration.Array[1, 3],
        (maxCount, groups, generations) => new Scenario(maxCount, groups, generations));

    [Fact]
    public Task RegisteredGroups_BusesInARowSharingAnOffsetStore_MatchTheModel() =>
        GenScenario.SampleAsync(RunAsync, iter: Iterations, threads: 1, print: s => s.ToString());

    private async Task RunAsync(Scenario scenario)
    {
        var store = new RegisteredGroupTests.SharedOffsetStore();
        var stored = new long?[scenario.Groups.Length];
        for (var g = 0; g < scenario.Generations.Length; g++)
        {
            await RunGenerationAsync(scenario, g, store, stored);
        }
    }

    private async Task RunGenerationAsync(Scenario scenario, int index, RegisteredGroupTests.SharedOffsetStore store, long?[] stored)
    {
        var generation = scenario.Generations[index];
        var driver = new Driver(scenario.Groups.Length);
        var skips = new SkipRecorder();
        var registered = Enumerable.Range(0, scenario.Groups.Length).Where(i => generation.Registered[i]).ToList();
        await using var bus = TestBus.Build(
            b =>
            {
                b.Configure(o => o.StopTimeout = TimeSpan.Zero); // a held handler is cancelled at once
                b.AddStream<Reading>(o => o.MaxCount = scenario.MaxCount);
                foreach (var i in registered)
                {
                    var spec = scenario.Groups[i];
                    b.AddStreamGroup<Reading, ModelHandler>(GroupName(i), o =>
                    {
                        o.StartPosition = spec.StartPosition;
                        o.ResetPolicy = spec.Reset;
                        o.Capacity = spec.Capacity;
                        o.FullPolicy = spec.FullPolicy;
                    }, ServiceLifetime.Singleton);
                }
            },
            Storage.With(s => s.AddSingleton<IStreamOffsetStore>(store).AddSingleton(driver).AddSingleton<IEventBusObserver>(skips)));
        var streams = bus.Streams();
        var where = $"bus {index + 1}";

        // 1. Published before start: refused only by a full FailFast backlog of a registered group, which joined at offset 0.
        var numbers = new List<int>();
        long start = 0;
        var next = 1;
        foreach (var publish in generation.Publishes)
        {
            for (var sent = 0; sent < publish.Count;)
            {
                var count = Math.Min(publish.Batch, publish.Count - sent);
                var readings = Enumerable.Range(next, count).Select(n => new Reading(n)).ToList();
                var refusal = registered.Select(i => scenario.Groups[i]).Any(g => count > 1 && count > g.Capacity) ? typeof(ArgumentException)
                    : registered.Select(i => scenario.Groups[i]).Any(g => numbers.Count + count > g.Capacity) ? typeof(BufferFullException)
                    : null;
                var thrown = await CaptureAsync(() => count == 1 ? bus.Bus.PublishAsync(readings[0]).AsTask() : bus.Bus.PublishBatchAsync(readings).AsTask());
                if (refusal is not null)
                {
                    thrown.Should().BeOfType(refusal, "{0}: a publish of {1} at head {2} is refused by a registered group's backlog", where, count, numbers.Count);
                    break;
                }

                thrown.Should().BeNull("{0}: a publish of {1} at head {2} fits every registered group", where, count, numbers.Count);
                numbers.AddRange(readings.Select(r => r.Number));
                next += count;
                sent += count;
                start = Retain(scenario.MaxCount, registered.Count > 0, start, numbers.Count, count);
            }
        }

        long head = numbers.Count;
        var info = streams.GetStreamInfo<Reading>();
        (info.FirstOffset, info.NextOffset).Should().Be((start, head), "{0}: the stream retains [{1}, {2}) before start", where, start, head);
        var replay = new List<int>();
        await foreach (var e in streams.ReadAsync<Reading>(StreamPosition.First))
        {
            replay.Add(e.Event.Number);
        }

        replay.Should().Equal(numbers.Skip((int)start), "{0}: a replay reads the retained events in offset order", where);

        // 2. The model of each group's start: its committed offset (stored, or offset 0 where it joined) if the stream holds it,
        // otherwise its reset policy; with neither, its start position.
        var expected = new Dictionary<int, Expectation>();
        var expectedSkips = new List<(string Group, long From, long Count)>();
        foreach (var i in registered)
        {
            var spec = scenario.Groups[i];
            long? from = stored[i] ?? (spec.StartPosition.Kind == StreamPositionKind.Offset ? null : 0);
            long position;
            if (from is not { } committed)
            {
                position = Math.Clamp(spec.StartPosition.Offset, start, head);
            }
            else if (committed >= start && committed <= head)
            {
                position = committed;
            }
            else if (spec.Reset == OffsetResetPolicy.Fail)
            {
                expected[i] = new Expectation(Started: false, committed, committed, [], Skipped: 0);
                continue;
            }
            else
            {
                position = spec.Reset == OffsetResetPolicy.Earliest ? start : head;
                if (committed < start)
                {
                    expectedSkips.Add((GroupName(i), committed, position - committed));
                }
            }

            var end = (long)Math.Min(head, position + (long)generation.Budgets[i]);
            var handled = Enumerable.Range((int)position, (int)(end - position)).Select(o => ((long)o, numbers[o])).ToList();
            expected[i] = new Expectation(Started: true, position, end, handled, expectedSkips.Where(s => s.Group == GroupName(i)).Sum(s => s.Count));
        }

        if (!generation.Start)
        {
            var notStarted = await bus.Control.StopAsync().Within();
            notStarted.Unfinished.Should().BeEmpty("{0}: a group's unread events are lag, not undelivered messages", where);
            notStarted.LaggingGroups.Select(g => (g.Subscription, g.CommittedOffset!.Value, g.Lag!.Value)).Should().BeEquivalentTo(
                registered.Where(_ => head > 0).Select(i => (GroupName(i), 0L, head)),
                "{0}: groups that never started lag by everything published", where);
            driver.Handled.Should().OnlyContain(h => h.Count == 0, "{0}: nothing is handled by a bus that never started", where);
            return; // nothing was stored: the next bus sees the same stored offsets
        }

        foreach (var i in expected.Keys)
        {
            driver.Budgets[i] = generation.Budgets[i];
        }

        await bus.Control.StartAsync();

        // 3. Each group handles its budget and holds the next event, or catches up.
        foreach (var (i, e) in expected.Where(e => e.Value.Started))
        {
            if (e.End < head)
            {
                var held = await driver.Holds[i].Task.Within(Wait.Promptly);
                held.Should().Be(e.End, "{0}: group {1} holds the event after its budget", where, GroupName(i));
            }
            else
            {
                await Wait.UntilAsync(() => streams.GetSubscription<Reading>(GroupName(i))?.GetSnapshot().CommittedOffset == head, $"{where}: group {GroupName(i)} caught up", Wait.Promptly);
            }
        }

        info = streams.GetStreamInfo<Reading>();
        foreach (var (i, e) in expected)
        {
            driver.Handled[i].Should().Equal(e.Handled, "{0}: group {1} handled exactly the model's events", where, GroupName(i));
            var group = info.Groups.Single(g => g.Subscription == GroupName(i));
            (group.CommittedOffset, group.Position, group.State, group.Skipped).Should().Be(
                ((long?)e.End, (long?)e.End, e.Started ? SubscriptionState.Running : SubscriptionState.Stopped, e.Skipped), "{0}: group {1}'s offsets match the model", where, GroupName(i));
        }

        skips.Items.Select(s => (s.Group, s.FromOffset, s.Count)).Should().BeEquivalentTo(expectedSkips, "{0}: every gap is reported exactly once", where);

        // 4. The stop cancels the held handlers: what they held stays uncommitted, and every group that did not catch up lags.
        var report = await bus.Control.StopAsync().Within();
        report.Unfinished.Should().BeEmpty("{0}: a group's unread events are lag, not undelivered messages", where);
        report.LaggingGroups.Select(g => (g.Subscription, g.CommittedOffset!.Value, g.Lag!.Value)).Should().BeEquivalentTo(
            expected.Where(e => e.Value.Started && e.Value.End < head).Select(e => (GroupName(e.Key), e.Value.End, head - e.Value.End)),
            "{0}: the stop report lists the groups behind their stream", where);
        foreach (var (i, e) in expected.Where(e => e.Value.Started))
        {
            stored[i] = e.End;
        }

        foreach (var i in registered)
        {
            store.Read(GroupName(i)).Should().Be(stored[i], "{0}: group {1}'s committed offset is stored for the next bus", where, GroupName(i));
        }
    }

    /// <summary>
    /// The model of retention after a publish: MaxCount keeps the newest events; without it, every 512 events the start moves
    /// to the default history, unless a registered group (which joined at offset 0 and has not started) still needs everything.
    /// </summary>
    private static long Retain(int? maxCount, bool groupsHoldTheStart, long start, long head, int appended)
    {
        if (maxCount is { } max)
        {
            return Math.Max(start, head - max);
        }

        if (groupsHoldTheStart)
        {
            return start;
        }

        for (var offset = head - appended; offset < head; offset++)
        {
            if (offset > 0 && offset % StreamLog.HistoryStep == 0)
            {
                start = Math.Max(start, offset - StreamOptions.DefaultHistory);
            }
        }

        return start;
    }

    private static string GroupName(int index) => ((char)('a' + index)).ToString();

    private static async Task<Exception?> CaptureAsync(Func<Task> action)
    {
        try
        {
            await action().Within(Wait.Promptly);
            return null;
        }
        catch (Exception e) when (e is not TimeoutException)
        {
            return e;
        }
    }

    private sealed record GroupSpec(StreamPosition StartPosition, OffsetResetPolicy Reset, int Capacity, FullPolicy FullPolicy)
    {
        public override string ToString() => $"start {StartPosition}, reset {Reset}, {FullPolicy} {Capacity}";
    }

    private sealed record Publish(int Count, int Batch)
    {
        public override string ToString() => $"publish {Count}{(Batch > 1 ? $" in batches of {Batch}" : " one by one")}";
    }

    private sealed record Generation(bool[] Registered, Publish[] Publishes, bool Start, int[] Budgets)
    {
        public override string ToString() =>
            $"groups {string.Join(",", Registered.Select((r, i) => r ? GroupName(i) : null).OfType<string>())}; {string.Join(", ", Publishes.Select(p => p.ToString()))}; "
            + (Start ? $"start, budgets {string.Join(", ", Budgets.Select(b => b == int.MaxValue ? "all" : b.ToString(CultureInfo.InvariantCulture)))}" : "never started");
    }

    private sealed record Scenario(int? MaxCount, GroupSpec[] Groups, Generation[] Generations)
    {
        public override string ToString()
        {
            var text = new StringBuilder().Append(MaxCount is { } max ? $"MaxCount {max}" : "no retention option (default history)");
            for (var i = 0; i < Groups.Length; i++)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n  group {GroupName(i)}: {Groups[i]}");
            }

            for (var g = 0; g < Generations.Length; g++)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n  bus {g + 1}: {Generations[g]}");
            }

            return text.ToString();
        }
    }

    /// <summary>What the model predicts for one group on one bus: it starts at <paramref name="Position"/> and ends (committed) at <paramref name="End"/>.</summary>
    private sealed record Expectation(bool Started, long Position, long End, List<(long Offset, int Number)> Handled, long Skipped);

    /// <summary>Shared by the groups' handler and the test: each group's budget, what it handled, and the offset it holds.</summary>
    public sealed class Driver(int groups)
    {
        public readonly int[] Budgets = new int[groups];
        public readonly List<(long Offset, int Number)>[] Handled = Enumerable.Range(0, groups).Select(_ => new List<(long, int)>()).ToArray();
        public readonly TaskCompletionSource<long>[] Holds = Enumerable.Range(0, groups).Select(_ => new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously)).ToArray();
    }

    /// <summary>The handler of every group: handles the group's budget of events, then holds the next until its token is cancelled.</summary>
    public sealed class ModelHandler(Driver driver) : IEventHandler<Reading>
    {
        public async ValueTask HandleAsync(Reading message, MessageContext context, CancellationToken cancellationToken)
        {
            var group = context.Subscription![0] - 'a';
            var handled = driver.Handled[group];
            if (handled.Count < driver.Budgets[group])
            {
                handled.Add((context.Offset!.Value, message.Number));
                return;
            }

            driver.Holds[group].TrySetResult(context.Offset!.Value);
            await new TaskCompletionSource().Task.WaitAsync(cancellationToken);
        }
    }

    /// <summary>The tests on the in-memory segmented storage, every stream's default.</summary>
    [Collection(nameof(StreamModelCollection))]
    public sealed class OnSegmentedStorage : StreamLifecycleModelTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.Segmented;
    }

    /// <summary>The tests on the tests' second storage (<see cref="ListStreamStorage"/>).</summary>
    [Collection(nameof(StreamModelCollection))]
    public sealed class OnListStorage : StreamLifecycleModelTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.List;
    }
}
