using Microsoft.Extensions.DependencyInjection;
using EventBus.Tests.Storage;
using System.Globalization;
using System.Text;
using System.Threading.Channels;
using CsCheck;
using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Streams;

/// <summary>
/// Model-based property tests of streams: random sequences of publishes (single and batch), consumption, commits, crash-restarts,
/// seeks and reads run against a real bus with MaxCount retention and, in step, against a plain list model of the log and of
/// every consumer group. After every operation the bus must match the model exactly: the retained range, every event read back,
/// every group's committed offset, position and skip count, every delivery each group handled, every skip reported.
/// </summary>
/// <remarks>
/// <para>Control: each group is a delegate group whose handler announces the event it takes in hand, then waits for a permit
/// (handle, handle and commit, or commit only and keep waiting). The test hands out permits one at a time and waits, after each,
/// for the state the model predicts: the group takes the next offset in hand, or it is idle with its offsets settled. So the
/// only concurrency left is the bus's own, and every outcome is exact.</para>
/// <para>Determinism: a group with a small backlog uses <see cref="FullPolicy.FailFast"/> (a gated group that is full would block
/// a waiting publisher forever); the model predicts every <see cref="BufferFullException"/>. One publish operation appends at
/// most MaxCount events, so an idle group always reads its next event before retention could trim it (which would otherwise race
/// with the worker waking up); trimming past unread events happens to groups that hold an event in hand or are stopped.</para>
/// <para>The one outcome the model cannot predict: after handling the event in hand, a group whose next events were trimmed
/// meanwhile either skips them (reported) or, when its handler had completed by the time its worker looked, goes on in its run of
/// reads and delivers them (they are intact in the segment it stands on). The worker's timing decides, so the model accepts either,
/// one event at a time, and checks everything else exactly (see <c>Advance</c> and <c>TookTrimmedEvent</c>).</para>
/// <para>A failure prints the scenario (the operations, shrunk by CsCheck) and the seed; pass that seed to
/// <see cref="Check.SampleAsync{T}(Gen{T}, Func{T, Task}, Action{string}?, string?, long, int, int, Func{T, string}?, ISampleLogger?)"/>
/// to replay it.</para>
/// </remarks>
[Collection(nameof(StreamModelCollection))]
public abstract class StreamModelTests
{
    /// <summary>Gets the registration of the stream storage the tests run against (<see cref="StreamStorages"/>).</summary>
    protected abstract Action<IServiceCollection> Storage { get; }

    private const int WaitCapacity = 1_000_000;

    /// <summary>Scenarios per property (the long-log property runs half as many: each is longer).</summary>
    private const int Iterations = 100;

    private static readonly Gen<StreamPosition> GenPosition = Gen.Frequency(
        (2, Gen.Const(StreamPosition.First)),
        (2, Gen.Const(StreamPosition.Last)),
        (1, Gen.Const(StreamPosition.Next)),
        (3, Gen.Int[0, 400].Select(o => StreamPosition.AtOffset(o))));

    private static readonly Gen<int> GenGroupIndex = Gen.Int[0, 2];

    /// <summary>Tight retention (5 to 30 events), small publishes, groups often FailFast with a small backlog: trimming past what groups have not read, and refused publishes, are frequent.</summary>
    private static readonly Gen<Scenario> TightRetention = Gen.Select(
        Gen.Int[5, 30], GenGroup(failFastWeight: 4).Array[2, 3], GenOp(publishWeight: 7, largeWeight: 1).Array[1, 30], (maxCount, groups, ops) => new Scenario(maxCount, groups, ops));

    /// <summary>Looser retention (31 to 200 events) and larger publishes: the log crosses segments, which are trimmed and reused under groups holding an event.</summary>
    private static readonly Gen<Scenario> LooseRetention = Gen.Select(
        Gen.Int[31, 200], GenGroup(failFastWeight: 1).Array[2, 3], GenOp(publishWeight: 12, largeWeight: 8).Array[1, 30], (maxCount, groups, ops) => new Scenario(maxCount, groups, ops));

    /// <summary>The widest retention (150 to 200 events), publishes mostly large: the log runs over several segments, trimmed and reused.</summary>
    private static readonly Gen<Scenario> LongLog = Gen.Select(
        Gen.Int[150, 200], GenGroup(failFastWeight: 1).Array[2, 3], GenOp(publishWeight: 20, largeWeight: 12).Array[1, 30], (maxCount, groups, ops) => new Scenario(maxCount, groups, ops));

    /// <summary>A group: a FailFast one (with a backlog of 1 to 150) with weight <paramref name="failFastWeight"/> against 2 for a Wait one whose backlog never fills.</summary>
    private static Gen<GroupSpec> GenGroup(int failFastWeight) => Gen.Select(
        Gen.Enum<AckMode>(),
        Gen.Int[1, 6],
        Gen.Frequency((failFastWeight, Gen.Const(true)), (2, Gen.Const(false))),
        Gen.Frequency((1, Gen.Int[1, 12]), (2, Gen.Int[13, 150])),
        Gen.Frequency((3, Gen.Const(OffsetResetPolicy.Earliest)), (1, Gen.Const(OffsetResetPolicy.Latest)), (1, Gen.Const(OffsetResetPolicy.Fail))),
        GenPosition,
        Gen.Bool,
        (mode, every, failFast, capacity, reset, start, upFront) => failFast
            ? new GroupSpec(mode, Math.Min(every, capacity), capacity, FullPolicy.FailFast, reset, start, upFront)
            : new GroupSpec(mode, every, WaitCapacity, FullPolicy.Wait, reset, start, upFront));

    /// <summary>An operation: a publish with weight <paramref name="publishWeight"/> (against 7 for a consumption and 10 for the other operations); publishes and consumptions are small (1 to 6) with weight 3, large (up to 200) with weight <paramref name="largeWeight"/>.</summary>
    private static Gen<Op> GenOp(int publishWeight, int largeWeight) => Gen.Frequency(
        (publishWeight, Gen.Select(Gen.Frequency((3, Gen.Int[1, 6]), (largeWeight, Gen.Int[1, 200])), Gen.Bool, (count, batch) => (Op)new Publish(count, batch))),
        (7, Gen.Select(GenGroupIndex, Gen.Frequency((3, Gen.Int[1, 5]), (largeWeight, Gen.Int[1, 200])), Gen.Enum<CommitPattern>(), (group, count, commits) => (Op)new Consume(group, count, commits))),
        (2, GenGroupIndex.Select(group => (Op)new CommitInHand(group))),
        (2, Gen.Select(GenGroupIndex, Gen.Bool, (group, commit) => (Op)new StopOrStart(group, commit))),
        (3, Gen.Select(GenGroupIndex, Gen.Bool, (group, commit) => (Op)new CrashRestart(group, commit))),
        (2, Gen.Select(GenGroupIndex, GenPosition, Gen.Bool, Gen.Bool, (group, to, viaStreams, commit) => (Op)new Seek(group, to, viaStreams, commit))),
        (1, GenPosition.Select(from => (Op)new Read(from))));

    private enum CommitPattern
    {
        Never,
        Each,
        Last,
        Alternate,
    }

    private enum Instruction
    {
        Handle,
        HandleAndCommit,
        CommitOnly,
    }

    private enum SignalKind
    {
        Entered,
        CommittedInHand,
    }

    private enum GroupState
    {
        NeverStarted,
        Running,
        Stopped,
    }

    // One scenario at a time (threads: 1): each drives its own bus, whose workers need the cores. No fixed seed: every run explores
    // new scenarios, and a failure prints the seed that replays it.
    [Fact]
    public Task TightRetention_RandomOperations_MatchTheModel() =>
        TightRetention.SampleAsync(RunAsync, iter: Iterations, threads: 1, print: s => s.ToString());

    [Fact]
    public Task LooseRetention_RandomOperations_MatchTheModel() =>
        LooseRetention.SampleAsync(RunAsync, iter: Iterations, threads: 1, print: s => s.ToString());

    [Fact]
    public Task LongLog_RandomOperations_MatchTheModel() =>
        LongLog.SampleAsync(RunAsync, iter: Iterations / 2, threads: 1, print: s => s.ToString());

    private async Task RunAsync(Scenario scenario)
    {
        var skips = new SkipRecorder();
        await using var bus = await TestBus.StartAsync(b =>
        {
            b.AddStream<Reading>(o => o.MaxCount = scenario.MaxCount);
            b.Configure(o => o.StopTimeout = TimeSpan.FromSeconds(2)); // only a failed scenario leaves a handler waiting at the stop
        }, Storage.With(s => s.AddSingleton<IEventBusObserver>(skips)));
        await new Run(scenario, bus, skips).ExecuteAsync();
    }

    private sealed record GroupSpec(AckMode Mode, int CommitEvery, int Capacity, FullPolicy FullPolicy, OffsetResetPolicy Reset, StreamPosition StartPosition, bool StartsUpFront)
    {
        public override string ToString() =>
            $"{Mode}{(Mode == AckMode.AfterHandling ? $"/every {CommitEvery}" : "")}, {FullPolicy} {Capacity}, reset {Reset}, start {StartPosition}{(StartsUpFront ? ", started up front" : "")}";
    }

    private sealed record Scenario(int MaxCount, GroupSpec[] Groups, Op[] Ops)
    {
        public override string ToString()
        {
            var text = new StringBuilder().Append(CultureInfo.InvariantCulture, $"MaxCount {MaxCount}");
            for (var i = 0; i < Groups.Length; i++)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n  group {GroupName(i)}: {Groups[i]}");
            }

            foreach (var op in Ops)
            {
                text.Append("\n  ").Append(op.Describe(Groups.Length));
            }

            return text.ToString();
        }
    }

    private abstract record Op
    {
        public abstract string Describe(int groups);
    }

    private sealed record Publish(int Count, bool Batch) : Op
    {
        public override string Describe(int groups) => $"Publish {Count}{(Batch ? " as a batch" : " one by one")} (at most MaxCount)";
    }

    private sealed record Consume(int Group, int Count, CommitPattern Commits) : Op
    {
        public override string Describe(int groups) => $"Consume {GroupName(Group % groups)} {Count}, handler commits {Commits}";
    }

    private sealed record CommitInHand(int Group) : Op
    {
        public override string Describe(int groups) => $"CommitInHand {GroupName(Group % groups)}";
    }

    private sealed record StopOrStart(int Group, bool CommitLast) : Op
    {
        public override string Describe(int groups) => $"StopOrStart {GroupName(Group % groups)}{(CommitLast ? ", the event in hand commits" : "")}";
    }

    private sealed record CrashRestart(int Group, bool CommitLast) : Op
    {
        public override string Describe(int groups) => $"CrashRestart {GroupName(Group % groups)}{(CommitLast ? ", the event in hand commits" : "")}";
    }

    private sealed record Seek(int Group, StreamPosition To, bool ViaStreams, bool CommitLast) : Op
    {
        public override string Describe(int groups) =>
            $"Seek {GroupName(Group % groups)} to {To}{(ViaStreams ? " via IEventStreams" : "")}{(CommitLast ? ", the event in hand commits" : "")}";
    }

    private sealed record Read(StreamPosition From) : Op
    {
        public override string Describe(int groups) => $"Read from {From}";
    }

    private static string GroupName(int index) => ((char)('a' + index)).ToString();

    private readonly record struct Delivery(int Instance, int Number, long Offset);

    /// <summary>A group's model before it skipped trimmed events from <paramref name="Offset"/>: the state to restore if the bus delivers that event instead.</summary>
    private sealed record TrimmedAlternative(long Offset, long Committed, long Skipped, int ExpectedSkips);

    private readonly record struct Signal(SignalKind Kind, long Offset, int Number);

    /// <summary>One consumer group: its model, and the real group with the channels that drive and observe its handler.</summary>
    private sealed class Group(string name, GroupSpec spec)
    {
        public readonly string Name = name;
        public readonly GroupSpec Spec = spec;

        // The model. Position is the next offset to read: the offset in hand while it is below the head.
        public readonly List<Delivery> ExpectedHandled = [];
        public GroupState State;
        public long? Stored;
        public bool Known;
        public long Position;
        public long Committed;
        public long Skipped;
        public int Instance;

        // The real group. A run starts at each start and each seek: the index of its first delivery in Handled.
        public readonly List<int> RunStarts = [];
        public IStreamSubscription? Subscription;
        public Channel<Instruction> Permits = Channel.CreateUnbounded<Instruction>();
        public Channel<Signal> Signals = Channel.CreateUnbounded<Signal>();
        private readonly List<Delivery> _handled = [];

        public List<Delivery> Handled
        {
            get
            {
                lock (_handled)
                {
                    return [.. _handled];
                }
            }
        }

        public IStreamSubscription Running => Subscription ?? throw new InvalidOperationException($"Group {Name} is not running.");

        /// <summary>A handler for one instance of the group: announces the event in hand, then obeys permits.</summary>
        public Func<Reading, MessageContext, CancellationToken, ValueTask> CreateHandler(int instance)
        {
            var permits = Permits;
            var signals = Signals;
            return async (reading, context, cancellationToken) =>
            {
                var offset = context.Offset ?? -1;
                signals.Writer.TryWrite(new Signal(SignalKind.Entered, offset, reading.Number));
                while (true)
                {
                    var instruction = await permits.Reader.ReadAsync(cancellationToken);
                    if (instruction == Instruction.CommitOnly)
                    {
                        context.Settlement!.Value.Commit();
                        signals.Writer.TryWrite(new Signal(SignalKind.CommittedInHand, offset, reading.Number));
                        continue;
                    }

                    lock (_handled)
                    {
                        _handled.Add(new Delivery(instance, reading.Number, offset));
                    }

                    if (instruction == Instruction.HandleAndCommit)
                    {
                        context.Settlement!.Value.Commit();
                    }
                    return;
                }
            };
        }

        public void MarkRunStart()
        {
            lock (_handled)
            {
                RunStarts.Add(_handled.Count);
            }
        }
    }

    /// <summary>One scenario: the operations applied to the model and to the bus in step, and the checks between them.</summary>
    private sealed class Run(Scenario scenario, TestBus bus, SkipRecorder skips)
    {
        private readonly IEventStreams _streams = bus.Streams();
        private readonly Group[] _groups = scenario.Groups.Select((spec, i) => new Group(GroupName(i), spec)).ToArray();
        private readonly List<int> _numbers = []; // the model of the log: the number of the event at each offset
        private readonly List<(string Group, long From, long Count)> _expectedSkips = [];
        private long _start;
        private long _head;
        private int _nextNumber = 1000;

        private long MaxCount => scenario.MaxCount;

        public async Task ExecuteAsync()
        {
            foreach (var group in _groups.Where(g => g.Spec.StartsUpFront))
            {
                await StartAsync(group);
            }

            await CheckAsync("the groups started up front");
            for (var i = 0; i < scenario.Ops.Length; i++)
            {
                var op = scenario.Ops[i];
                await ApplyAsync(op);
                await CheckAsync($"operation {i + 1} ({op.Describe(_groups.Length)})");
            }

            foreach (var group in _groups.Where(g => g.State == GroupState.Running))
            {
                await StopAsync(group, commitInHand: false);
            }

            await CheckAsync("the end, every group stopped");
            foreach (var group in _groups)
            {
                CheckRunsAreDense(group);
                group.Permits.Reader.Count.Should().Be(0, "group {0} took every permit it was given", group.Name);
            }
        }

        private Task ApplyAsync(Op op) => op switch
        {
            Publish p => p.Batch ? PublishBatchAsync((int)Math.Min(p.Count, MaxCount)) : PublishOneByOneAsync((int)Math.Min(p.Count, MaxCount)),
            Consume c => ConsumeAsync(GroupAt(c.Group), c.Count, c.Commits),
            CommitInHand c => CommitInHandAsync(GroupAt(c.Group)),
            StopOrStart s => GroupAt(s.Group) is { State: GroupState.Running } g ? StopAsync(g, s.CommitLast) : StartAsync(GroupAt(s.Group)),
            CrashRestart r => CrashRestartAsync(GroupAt(r.Group), r.CommitLast),
            Seek s => SeekAsync(GroupAt(s.Group), s.To, s.ViaStreams, s.CommitLast),
            Read r => ReadAsync(r.From),
            _ => throw new InvalidOperationException($"Unknown operation {op}."),
        };

        private Group GroupAt(int index) => _groups[index % _groups.Length];

        // ---- Publishing ----

        private async Task PublishOneByOneAsync(int count)
        {
            for (var i = 0; i < count; i++)
            {
                var reading = new Reading(_nextNumber++);
                var refusal = ExpectedRefusal(1);
                var thrown = await CaptureAsync(() => bus.Bus.PublishAsync(reading).AsTask());
                if (refusal is not null)
                {
                    thrown.Should().BeOfType(refusal, "a publish of 1 at head {0} is refused by a full FailFast group ({1})", _head, DescribeGroups());
                    return;
                }

                thrown.Should().BeNull("a publish of 1 at head {0} fits every running group ({1})", _head, DescribeGroups());
                await AppendedAsync([reading.Number]);
            }
        }

        private async Task PublishBatchAsync(int count)
        {
            var readings = Enumerable.Range(0, count).Select(_ => new Reading(_nextNumber++)).ToList();
            var refusal = ExpectedRefusal(count);
            var thrown = await CaptureAsync(() => bus.Bus.PublishBatchAsync(readings).AsTask());
            if (refusal is not null)
            {
                thrown.Should().BeOfType(refusal, "a batch of {0} at head {1} is refused ({2})", count, _head, DescribeGroups());
                return;
            }

            thrown.Should().BeNull("a batch of {0} at head {1} fits every running group ({2})", count, _head, DescribeGroups());
            await AppendedAsync(readings.Select(r => r.Number).ToList());
        }

        /// <summary>The model of the room checks: a batch larger than a running group's capacity never fits; a FailFast group refuses what exceeds its backlog.</summary>
        private Type? ExpectedRefusal(int count)
        {
            var running = _groups.Where(g => g.State == GroupState.Running).ToList();
            if (count > 1 && running.Exists(g => count > g.Spec.Capacity))
            {
                return typeof(ArgumentException);
            }

            return running.Exists(g => _head + count - g.Committed > g.Spec.Capacity) ? typeof(BufferFullException) : null;
        }

        /// <summary>The events got the next offsets; retention keeps the last MaxCount; idle groups take the first new event in hand.</summary>
        private async Task AppendedAsync(List<int> numbers)
        {
            var previousHead = _head;
            _numbers.AddRange(numbers);
            _head += numbers.Count;
            _start = Math.Max(_start, _head - MaxCount);
            foreach (var group in _groups.Where(g => g.State == GroupState.Running && g.Position == previousHead))
            {
                Advance(group);
                await ExpectStateAsync(group);
            }
        }

        // ---- Consuming ----

        private async Task ConsumeAsync(Group group, int count, CommitPattern commits)
        {
            if (group.State != GroupState.Running)
            {
                return;
            }

            for (var i = 0; i < count && group.Position < _head; i++)
            {
                var commit = commits switch
                {
                    CommitPattern.Each => true,
                    CommitPattern.Last => i == count - 1 || group.Position + 1 == _head,
                    CommitPattern.Alternate => i % 2 == 1,
                    _ => false,
                };
                HandleInHand(group, commit ? Instruction.HandleAndCommit : Instruction.Handle);
                await ExpectStateAsync(group, Advance(group, afterHandling: true));
            }
        }

        private async Task CommitInHandAsync(Group group)
        {
            if (group.State != GroupState.Running || group.Position >= _head)
            {
                return;
            }

            group.Permits.Writer.TryWrite(Instruction.CommitOnly);
            var signal = await NextSignalAsync(group, $"commit offset {group.Position + 1} while offset {group.Position} is in hand");
            signal.Should().Be(new Signal(SignalKind.CommittedInHand, group.Position, NumberAt(group.Position)), "group {0} committed the event it holds", group.Name);
            group.Committed = Math.Max(group.Committed, group.Position + 1);
        }

        /// <summary>Releases the event in hand with <paramref name="instruction"/>, and moves the model past it (as the worker does before it looks at anything else).</summary>
        private void HandleInHand(Group group, Instruction instruction)
        {
            var offset = group.Position;
            group.Permits.Writer.TryWrite(instruction);
            group.ExpectedHandled.Add(new Delivery(group.Instance, NumberAt(offset), offset));
            if (instruction == Instruction.HandleAndCommit)
            {
                group.Committed = Math.Max(group.Committed, offset + 1);
            }

            group.Position = offset + 1;
            if (group.Spec.Mode == AckMode.AfterHandling && group.Position - group.Committed >= group.Spec.CommitEvery)
            {
                group.Committed = group.Position;
            }
        }

        /// <summary>
        /// The model of the worker's loop, from where it stands: past events retention trimmed (reported as skipped, committed past),
        /// then either an event in hand (committed before handling in BeforeHandling) or idle at the head (everything handled committed,
        /// except in Manual mode).
        /// </summary>
        /// <returns>
        /// After a handled event (<paramref name="afterHandling"/>) whose successors were trimmed, the model's state before the skip:
        /// the bus may deliver the next trimmed event instead (see <see cref="TookTrimmedEvent"/>); otherwise null.
        /// </returns>
        private TrimmedAlternative? Advance(Group group, bool afterHandling = false)
        {
            TrimmedAlternative? alternative = null;
            if (group.Position < _head && group.Position < _start)
            {
                if (afterHandling)
                {
                    alternative = new TrimmedAlternative(group.Position, group.Committed, group.Skipped, _expectedSkips.Count);
                }

                ExpectSkip(group, group.Position, _start - group.Position);
                group.Position = _start;
                group.Committed = Math.Max(group.Committed, _start);
            }

            if (group.Position >= _head)
            {
                if (group.Spec.Mode != AckMode.Manual)
                {
                    group.Committed = Math.Max(group.Committed, group.Position);
                }
            }
            else if (group.Spec.Mode == AckMode.BeforeHandling)
            {
                group.Committed = Math.Max(group.Committed, group.Position + 1);
            }

            return alternative;
        }

        /// <summary>Waits for the state the model predicts: the next event in hand (exactly that offset), or idle with exactly the model's offsets.</summary>
        private async Task ExpectStateAsync(Group group, TrimmedAlternative? alternative = null)
        {
            if (group.Position < _head)
            {
                var signal = await NextSignalAsync(group, $"take offset {group.Position} in hand");
                if (!TookTrimmedEvent(group, alternative, signal))
                {
                    signal.Should().Be(new Signal(SignalKind.Entered, group.Position, NumberAt(group.Position)), "group {0} takes the next event in hand", group.Name);
                }

                return;
            }

            var subscription = group.Running;
            try
            {
                await Wait.UntilAsync(
                    () => (alternative is not null && group.Signals.Reader.TryPeek(out _))
                        || (subscription.GetSnapshot() is var info && info.Position == group.Position && info.CommittedOffset == group.Committed),
                    $"group {group.Name} is idle at {group.Position} with {group.Committed} committed",
                    Wait.Promptly);
            }
            catch (TimeoutException)
            {
                // The exact comparison below reports what the group shows instead.
            }

            if (alternative is not null && group.Signals.Reader.TryRead(out var taken))
            {
                TookTrimmedEvent(group, alternative, taken).Should().BeTrue("group {0} either skips to the head or takes the trimmed offset {1} in hand, but took {2}", group.Name, alternative.Offset, taken);
                return;
            }

            var actual = subscription.GetSnapshot();
            (actual.Position, actual.CommittedOffset).Should().Be((group.Position, group.Committed), "group {0} is idle at the head with its offsets settled", group.Name);
        }

        /// <summary>
        /// Whether the group took in hand the trimmed event the model was about to skip (<paramref name="alternative"/>): then the model
        /// goes back to its state before the skip, with that event in hand. A group checks retention between runs of reads, not
        /// before every event: after a handler that completed by the time the worker looked (the worker can be descheduled for as
        /// long as the test takes to publish), it goes on in its run and delivers the next events of the segment it stands on,
        /// trimmed but intact.
        /// </summary>
        private bool TookTrimmedEvent(Group group, TrimmedAlternative? alternative, Signal signal)
        {
            if (alternative is null || signal != new Signal(SignalKind.Entered, alternative.Offset, NumberAt(alternative.Offset)))
            {
                return false;
            }

            _expectedSkips.RemoveRange(alternative.ExpectedSkips, _expectedSkips.Count - alternative.ExpectedSkips);
            group.Position = alternative.Offset;
            group.Committed = alternative.Committed;
            group.Skipped = alternative.Skipped;
            if (group.Spec.Mode == AckMode.BeforeHandling)
            {
                group.Committed = Math.Max(group.Committed, alternative.Offset + 1);
            }

            return true;
        }

        private static async Task<Signal> NextSignalAsync(Group group, string what)
        {
            try
            {
                return await group.Signals.Reader.ReadAsync().AsTask().Within(Wait.Promptly);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"Group {group.Name} did not {what} within {Wait.Promptly}; it shows {group.Subscription?.GetSnapshot()}.", e);
            }
        }

        // ---- Stopping, starting, seeking ----

        private async Task CrashRestartAsync(Group group, bool commitInHand)
        {
            if (group.State == GroupState.Running)
            {
                await StopAsync(group, commitInHand);
            }

            await StartAsync(group);
        }

        /// <summary>Disposes the group: it finishes the event in hand, commits what it handled (but in Manual mode), and leaves.</summary>
        private async Task StopAsync(Group group, bool commitInHand)
        {
            var subscription = group.Running;
            var disposing = subscription.DisposeAsync().AsTask();
            if (group.Position < _head)
            {
                HandleInHand(group, commitInHand ? Instruction.HandleAndCommit : Instruction.Handle);
            }

            if (group.Spec.Mode != AckMode.Manual)
            {
                group.Committed = Math.Max(group.Committed, group.Position);
            }

            await disposing.Within(Wait.Promptly);
            subscription.Completion.IsCompletedSuccessfully.Should().BeTrue("group {0} stopped because it was disposed", group.Name);
            subscription.GetSnapshot().State.Should().Be(SubscriptionState.Stopped);
            group.Subscription = null;
            group.State = GroupState.Stopped;
            group.Stored = group.Committed;
        }

        /// <summary>
        /// Starts (or resumes) the group: from its committed offset if still retained, from its reset policy's choice if trimmed (the
        /// gap reported), or from its start position the first time.
        /// </summary>
        private async Task StartAsync(Group group)
        {
            var before = Describe(group.Name);
            (before?.CommittedOffset).Should().Be(group.Stored, "the stream knows group {0}'s committed offset", group.Name);
            long position;
            long skipped = 0;
            if (group.Stored is not { } stored)
            {
                position = Resolve(group.Spec.StartPosition);
            }
            else if (stored >= _start)
            {
                position = Math.Min(stored, _head);
            }
            else if (group.Spec.Reset == OffsetResetPolicy.Fail)
            {
                var refused = await CaptureAsync(() => SubscribeAsync(group, group.Instance + 1));
                refused.Should().BeOfType<StreamOffsetOutOfRangeException>("group {0} committed {1}, trimmed below {2}, and its reset policy is Fail", group.Name, stored, _start);
                return;
            }
            else
            {
                position = group.Spec.Reset == OffsetResetPolicy.Earliest ? _start : _head;
                skipped = position - stored;
                ExpectSkip(group, stored, skipped);
            }

            group.Instance++;
            group.MarkRunStart();
            group.Subscription = await SubscribeAsync(group, group.Instance);
            group.State = GroupState.Running;
            group.Known = true;
            group.Position = group.Committed = position;
            group.Stored = position;
            group.Skipped = skipped;
            Advance(group);
            await ExpectStateAsync(group);

            // Property 3, stated on what the bus reported: a resumed group goes on exactly at the offset it had committed when it was
            // stopped (nothing committed is seen again, nothing uncommitted is lost), moved up to the oldest retained event if retention
            // trimmed it (or to the head, for reset policy Latest).
            if (before is not null)
            {
                var info = _streams.GetStreamInfo<Reading>();
                var expected = before.CommittedOffset >= info.FirstOffset
                    ? before.CommittedOffset
                    : group.Spec.Reset == OffsetResetPolicy.Earliest ? info.FirstOffset : info.NextOffset;
                group.Running.GetSnapshot().Position.Should().Be(expected, "group {0} resumes at its committed offset {1} (retained from {2})", group.Name, before.CommittedOffset, info.FirstOffset);
            }
        }

        private async Task<IStreamSubscription> SubscribeAsync(Group group, int instance)
        {
            group.Permits = Channel.CreateUnbounded<Instruction>();
            group.Signals = Channel.CreateUnbounded<Signal>();
            var spec = group.Spec;
            return await _streams.SubscribeAsync(group.Name, group.CreateHandler(instance), o =>
            {
                o.AckMode = spec.Mode;
                o.CommitEvery = spec.CommitEvery;
                o.Capacity = spec.Capacity;
                o.FullPolicy = spec.FullPolicy;
                o.ResetPolicy = spec.Reset;
                o.StartPosition = spec.StartPosition;
            });
        }

        /// <summary>
        /// Seeks a running group (after it finishes the event in hand, which still counts as handled; the committed offset is set to
        /// the target, even backwards), or moves a stopped group's committed offset.
        /// </summary>
        private async Task SeekAsync(Group group, StreamPosition to, bool viaStreams, bool commitInHand)
        {
            if (group.State != GroupState.Running)
            {
                var stored = await _streams.SeekAsync<Reading>(group.Name, to).AsTask().Within(Wait.Promptly);
                stored.Should().Be(Resolve(to), "a stopped group's seek to {0} resolves in [{1}, {2}]", to, _start, _head);
                group.Stored = stored;
                group.Known = true;
                return;
            }

            var seeking = viaStreams ? _streams.SeekAsync<Reading>(group.Name, to).AsTask() : group.Running.SeekAsync(to).AsTask();
            if (group.Position < _head)
            {
                HandleInHand(group, commitInHand ? Instruction.HandleAndCommit : Instruction.Handle);
            }

            var resolved = Resolve(to);
            var applied = await seeking.Within(Wait.Promptly);
            applied.Should().Be(resolved, "group {0}'s seek to {1} resolves in [{2}, {3}]", group.Name, to, _start, _head);
            group.MarkRunStart();
            group.Position = group.Committed = resolved;
            Advance(group);
            await ExpectStateAsync(group);
        }

        // ---- Reading and checking ----

        private async Task ReadAsync(StreamPosition from)
        {
            var read = await ReadAllAsync(from);
            read.Should().Equal(Retained(Resolve(from)), "a replay from {0} reads [{1}, {2}) in offset order", from, Resolve(from), _head);
        }

        private async Task<List<(long Offset, int Number)>> ReadAllAsync(StreamPosition from)
        {
            var read = new List<(long Offset, int Number)>();
            await foreach (var e in _streams.ReadAsync<Reading>(from))
            {
                read.Add((e.Offset, e.Event.Number));
            }

            return read;
        }

        private List<(long Offset, int Number)> Retained(long from)
        {
            var events = new List<(long Offset, int Number)>();
            for (var offset = from; offset < _head; offset++)
            {
                events.Add((offset, NumberAt(offset)));
            }

            return events;
        }

        /// <summary>After every operation: the bus equals the model, in everything it shows.</summary>
        private async Task CheckAsync(string when)
        {
            // Property 1: offsets are dense from 0 in publish order; a replay from First yields exactly the retained [head - MaxCount, head).
            var info = _streams.GetStreamInfo<Reading>();
            (info.FirstOffset, info.NextOffset).Should().Be((_start, _head), "the stream retains [{0}, {1}) after {2}", _start, _head, when);
            (await ReadAllAsync(StreamPosition.First)).Should().Equal(Retained(_start), "a replay from First reads every retained event in offset order after {0}", when);

            var expectedGroups = _groups.Where(g => g.Known).OrderBy(g => g.Name, StringComparer.Ordinal).Select(g => g.State == GroupState.Running
                ? (info.Topic, g.Name, (long?)g.Committed, (long?)g.Position, (long?)_head, g.Skipped, SubscriptionState.Running)
                : (info.Topic, g.Name, g.Stored!.Value, g.Stored.Value, _head, 0L, SubscriptionState.Stopped));
            info.Groups.Select(g => (g.Topic, g.Subscription, g.CommittedOffset, g.Position, g.NextOffset, g.Skipped, g.State))
                .Should().Equal(expectedGroups, "every group's offsets match the model after {0}", when);

            // Property 2 (and 3, through the model): each group handled exactly the deliveries the model predicts, in order.
            foreach (var group in _groups)
            {
                group.Handled.Should().Equal(group.ExpectedHandled, "group {0} handled exactly the model's deliveries after {1}", group.Name, when);
                group.Signals.Reader.TryPeek(out var unexpected).Should().BeFalse("group {0} took nothing in hand the model did not expect ({1}) after {2}", group.Name, unexpected, when);
            }

            skips.Items.Select(s => (s.Group, s.FromOffset, s.Count)).Should().Equal(_expectedSkips, "every gap is reported exactly once after {0}", when);
        }

        /// <summary>
        /// Property 2, stated on what the groups handled: within a run (from a start or a seek to the next), offsets strictly increase by
        /// one, except over a gap that retention trimmed before the group read it, which was reported as skipped, exactly.
        /// </summary>
        private void CheckRunsAreDense(Group group)
        {
            var handled = group.Handled;
            var reported = skips.Items.Where(s => s.Group == group.Name).Select(s => (s.FromOffset, s.Count)).ToList();
            var boundaries = group.RunStarts.Append(handled.Count).ToList();
            for (var run = 0; run < boundaries.Count - 1; run++)
            {
                for (var i = boundaries[run] + 1; i < boundaries[run + 1]; i++)
                {
                    var (previous, next) = (handled[i - 1].Offset, handled[i].Offset);
                    if (next != previous + 1)
                    {
                        next.Should().BeGreaterThan(previous, "group {0} handles offsets in increasing order within a run", group.Name);
                        reported.Should().Contain((previous + 1, next - previous - 1), "group {0} went from {1} to {2}: the gap was trimmed and reported", group.Name, previous, next);
                    }
                }
            }
        }

        // ---- The model's helpers ----

        private long Resolve(StreamPosition position) => position.Kind switch
        {
            StreamPositionKind.First => _start,
            StreamPositionKind.Last => Math.Max(_start, _head - 1),
            StreamPositionKind.Offset => Math.Clamp(position.Offset, _start, _head),
            _ => _head,
        };

        private void ExpectSkip(Group group, long from, long count)
        {
            if (count > 0)
            {
                group.Skipped += count;
                _expectedSkips.Add((group.Name, from, count));
            }
        }

        private int NumberAt(long offset) => _numbers[checked((int)offset)];

        private SubscriptionSnapshot? Describe(string name) => _streams.GetStreamInfo<Reading>().Groups.SingleOrDefault(g => g.Subscription == name);

        private string DescribeGroups() => string.Join("; ", _groups.Select(g => $"{g.Name} {g.State} committed {(g.State == GroupState.Running ? g.Committed : g.Stored)} capacity {g.Spec.Capacity}"));

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
    }

    /// <summary>The tests on the in-memory segmented storage, every stream's default.</summary>
    [Collection(nameof(StreamModelCollection))]
    public sealed class OnSegmentedStorage : StreamModelTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.Segmented;
    }

    /// <summary>The tests on the tests' second storage (<see cref="ListStreamStorage"/>).</summary>
    [Collection(nameof(StreamModelCollection))]
    public sealed class OnListStorage : StreamModelTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.List;
    }
}

/// <summary>The model tests run alone, after the parallel tests: each scenario drives its own bus, whose workers need the cores.</summary>
[CollectionDefinition(nameof(StreamModelCollection), DisableParallelization = true)]
public sealed class StreamModelCollection;
