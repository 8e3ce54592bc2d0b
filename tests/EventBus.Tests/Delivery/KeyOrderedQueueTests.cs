using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using CsCheck;
using EventBus.Tests.Infrastructure;
using EventBus.Tests.Queues;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Delivery;

/// <summary>
/// The delivery contract in <see cref="DeliveryMode.KeyOrdered"/> mode with 4 workers (the contract's messages carry no partition
/// key, so they go round the workers' lanes), plus the key-ordered promise: per key one message at a time in publish order, keys
/// in parallel, through retries, dead letters and re-drives; the capacity across lanes; the stop; validation; command queues.
/// Keys are chosen by the worker they map to (<see cref="PartitionKeys"/>), so which key waits behind which is known exactly.
/// </summary>
public sealed class KeyOrderedQueueTests : DeliveryContractTests
{
    private const int FourWorkers = 4;
    private const int Capacity = 4;

    protected override DeliveryMode Mode => DeliveryMode.KeyOrdered;

    protected override int Workers => FourWorkers;

    protected override void ConfigureMode<THandler>(EventBusBuilder builder) =>
        builder.ConfigureSubscription<THandler>(o =>
        {
            o.Mode = DeliveryMode.KeyOrdered;
            o.Workers = FourWorkers;
        });

    [Fact]
    public async Task PublishAsync_61KeysX131MessagesFourWorkers_EachKeysMessagesHandledOnceEachInPublishOrder()
    {
        const int Keys = 61, PerKey = 131; // a key count that the workers do not divide: a key's messages are not spaced by a multiple of 4
        await using var bus = await StartProbedAsync();
        var probe = bus.Get<KeyProbe>();
        probe.Expect(Keys * PerKey);

        for (var seq = 0; seq < PerKey; seq++)
        {
            for (var k = 0; k < Keys; k++)
            {
                await PublishAsync(bus, $"key-{k}", seq);
            }
        }

        await probe.AllHandled.Within();
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        probe.Overlaps.Should().Be(0, "a key's messages are handled one at a time");
        probe.Handled.Should().Be(Keys * PerKey);
        probe.PerKey.Should().HaveCount(Keys);
        foreach (var (key, seen) in probe.PerKey)
        {
            seen.Should().OnlyContain(s => s.Key == key, "the handler sees the partition key it was published with");
            seen.Select(s => s.Seq).Should().Equal(Enumerable.Range(0, PerKey), $"{key}'s messages are handled in publish order, each once");
        }

        bus.Snapshot<ProbedHandler>().Should().Match<SubscriptionSnapshot>(s =>
            s.Mode == DeliveryMode.KeyOrdered && s.Workers == FourWorkers && s.Delivered == Keys * PerKey && s.Succeeded == Keys * PerKey && s.Failed == 0 && s.Depth == 0);
        bus.Undelivered.Count.Should().Be(0);
    }

    [Fact]
    public async Task PublishAsync_FourConcurrentPublishersOver16Keys_OrderPerPublisherPerKeyHolds()
    {
        const int Publishers = 4, Keys = 16, PerPublisherPerKey = 100;
        await using var bus = await StartProbedAsync();
        var probe = bus.Get<KeyProbe>();
        probe.Expect(Publishers * Keys * PerPublisherPerKey);

        var publishers = Enumerable.Range(0, Publishers).Select(p => Task.Run(async () =>
        {
            for (var seq = 0; seq < PerPublisherPerKey; seq++)
            {
                for (var k = 0; k < Keys; k++)
                {
                    await PublishAsync(bus, $"key-{k}", seq, publisher: p);
                }
            }
        }));
        await Task.WhenAll(publishers).Within();
        await probe.AllHandled.Within();

        probe.Overlaps.Should().Be(0, "a key's messages are handled one at a time");
        probe.PerKey.Should().HaveCount(Keys);
        foreach (var (key, seen) in probe.PerKey)
        {
            seen.Should().HaveCount(Publishers * PerPublisherPerKey, $"{key} gets every publisher's messages once");
            foreach (var fromOne in seen.GroupBy(s => s.Publisher))
            {
                fromOne.Select(s => s.Seq).Should().Equal(Enumerable.Range(0, PerPublisherPerKey), $"publisher {fromOne.Key}'s messages of {key} keep its order");
            }
        }
    }

    [Fact]
    public async Task PublishAsync_KeyHeldInItsHandler_LaterMessagesOfItsWorkerWaitWhileAKeyOnAnotherWorkerGoesOn()
    {
        var held = KeyOnWorker(0, FourWorkers);
        var sameWorker = KeyOnWorker(0, FourWorkers, skip: 1);
        var other = KeyOnWorker(1, FourWorkers);
        await using var bus = await StartScriptedAsync();
        var started = bus.Get<Recorder<ScriptedHandler, (string Key, int Seq, int DeliveryCount)>>();
        var handled = bus.Log<ScriptedHandler, string>();

        await PublishAsync(bus, held, 0, hold: true);
        await started.WaitForCountAsync(1);
        await PublishAsync(bus, held, 1);
        await PublishAsync(bus, sameWorker, 0);
        for (var i = 0; i < 10; i++)
        {
            await PublishAsync(bus, other, i);
        }

        // Another worker handles the other key while the held key's worker is busy: keys run in parallel.
        (await handled.WaitForCountAsync(10)).Should().Equal(Enumerable.Range(0, 10).Select(i => $"{other}#{i}"));
        await Wait.UntilAsync(() => bus.Snapshot<ScriptedHandler>().InFlight == 1, "the other key's worker finished its last message");
        bus.Snapshot<ScriptedHandler>().Depth.Should().Be(2, "the held key's next message (and the key that shares its worker) wait in its lane; no other worker takes them");
        started.Items.Select(s => s.Key).Should().NotContain(sameWorker).And.ContainSingle(k => k == held, "a key's next message never starts while one of its messages is being handled");

        bus.Get<Gate<ScriptedHandler>>().Open();
        var all = await handled.WaitForCountAsync(13);
        all.Skip(10).Should().Equal($"{held}#0", $"{held}#1", $"{sameWorker}#0");
    }

    [Fact]
    public async Task PublishAsync_FailureRedeliveredAtOnceThenAfterADelay_ItsKeyWaitsInOrderWhileOtherKeysGoOn()
    {
        var time = new FakeTimeProvider();
        var failing = KeyOnWorker(0, FourWorkers);
        var other = KeyOnWorker(1, FourWorkers);
        await using var bus = await StartScriptedAsync(
            o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 1, InitialDelay = TimeSpan.FromSeconds(10), JitterFraction = 0 },
            time);
        bus.Get<FailPlan>().Fail(failing, 0, attempts: 2); // the first attempt and the immediate retry fail; the delayed one succeeds
        var attempts = bus.Get<Recorder<ScriptedHandler, (string Key, int Seq, int DeliveryCount)>>();
        var handled = bus.Log<ScriptedHandler, string>();

        for (var i = 0; i < 3; i++)
        {
            await PublishAsync(bus, failing, i);
        }

        for (var i = 0; i < 5; i++)
        {
            await PublishAsync(bus, other, i);
        }

        (await handled.WaitForCountAsync(5)).Should().Equal(Enumerable.Range(0, 5).Select(i => $"{other}#{i}"), "the other key's worker goes on");
        await Wait.UntilAsync(() => attempts.Items.Count(a => a.Key == failing) == 2, "the immediate retry failed");
        attempts.Items.Where(a => a.Key == failing).Should().Equal((failing, 0, 1), (failing, 0, 2));
        await Wait.UntilAsync(() => bus.Snapshot<ScriptedHandler>().InFlight == 1, "the other key's worker finished its last message");
        bus.Snapshot<ScriptedHandler>().Should().Match<SubscriptionSnapshot>(s => s.Depth == 2 && s.ScheduledRedeliveries == 0,
            "the failed message waits for its delayed attempt in place (in flight, not scheduled), its key's later messages behind it");

        await FakeClock.AdvanceUntilAsync(time, TimeSpan.FromSeconds(10), () => handled.Count > 5);
        var all = await handled.WaitForCountAsync(8);

        all.Skip(5).Should().Equal($"{failing}#0", $"{failing}#1", $"{failing}#2");
        attempts.Items.Where(a => a.Key == failing).Should().Equal((failing, 0, 1), (failing, 0, 2), (failing, 0, 3), (failing, 1, 1), (failing, 2, 1));
        bus.Snapshot<ScriptedHandler>().Should().Match<SubscriptionSnapshot>(s => s.Succeeded == 8 && s.Retried == 2 && s.DeadLettered == 0);
    }

    [Fact]
    public async Task PublishAsync_MessageFailsEveryAttempt_DeadLetteredTheKeyGoesOnAndARedriveReturnsItToItsKeysLane()
    {
        var failing = KeyOnWorker(0, FourWorkers);
        var other = KeyOnWorker(1, FourWorkers);
        await using var bus = await StartScriptedAsync(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 });
        var plan = bus.Get<FailPlan>();
        plan.Fail(failing, 0, attempts: int.MaxValue);
        var attempts = bus.Get<Recorder<ScriptedHandler, (string Key, int Seq, int DeliveryCount)>>();
        var handled = bus.Log<ScriptedHandler, string>();
        var deadLetters = bus.Get<IDeadLetterQueue>();

        for (var i = 0; i < 3; i++)
        {
            await PublishAsync(bus, failing, i);
        }

        (await handled.WaitForCountAsync(2)).Should().Equal($"{failing}#1", $"{failing}#2");
        await bus.Undelivered.WaitForCountAsync(1);
        attempts.Items.Should().Equal((failing, 0, 1), (failing, 0, 2), (failing, 1, 1), (failing, 2, 1));
        var deadLetter = deadLetters.GetDeadLetters().Should().ContainSingle().Subject;
        deadLetter.Message.Should().Be(new Keyed(failing, 0));
        deadLetter.DeliveryCount.Should().Be(2);
        deadLetter.Context.PartitionKey.Should().Be(failing);
        bus.Undelivered.Items.Should().ContainSingle().Which.Reason.Should().Be(UndeliveredReason.HandlerFailed);

        // The key's worker holds a later message; the re-driven one must queue behind it, in its key's lane.
        await PublishAsync(bus, failing, 3, hold: true);
        await Wait.UntilAsync(() => attempts.Items.Contains((failing, 3, 1)), "the held message is in its handler");
        plan.Fix(failing, 0);
        (await deadLetters.RedriveAsync()).Should().Be(1);
        await PublishAsync(bus, other, 0);
        (await handled.WaitForCountAsync(3)).Should().Equal($"{failing}#1", $"{failing}#2", $"{other}#0");
        await Wait.UntilAsync(() => bus.Snapshot<ScriptedHandler>().InFlight == 1, "the other key's worker finished its message");
        bus.Snapshot<ScriptedHandler>().Depth.Should().Be(1, "the re-driven message waits in its key's lane, behind the held one");

        bus.Get<Gate<ScriptedHandler>>().Open();
        (await handled.WaitForCountAsync(5)).Skip(3).Should().Equal($"{failing}#3", $"{failing}#0");
        attempts.Items[^1].Should().Be((failing, 0, 1), "a re-drive starts a new round of attempts");
        deadLetters.Count.Should().Be(0);
    }

    [Fact]
    public async Task PublishAsync_KeylessMessages_GoRoundTheWorkersAndAreAllHandledOnce()
    {
        const int Total = 400;
        await using var bus = await StartScriptedAsync();
        var started = bus.Get<Recorder<ScriptedHandler, (string Key, int Seq, int DeliveryCount)>>();
        var handled = bus.Log<ScriptedHandler, string>();

        // Four keyless messages in a row land in four lanes: every worker holds one.
        for (var i = 0; i < FourWorkers; i++)
        {
            await PublishAsync(bus, key: null, i, hold: true);
        }

        await started.WaitForCountAsync(FourWorkers);
        bus.Snapshot<ScriptedHandler>().InFlight.Should().Be(FourWorkers);

        for (var i = FourWorkers; i < Total; i++)
        {
            await PublishAsync(bus, key: null, i);
        }

        bus.Get<Gate<ScriptedHandler>>().Open();
        await handled.WaitForCountAsync(Total);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        handled.Items.Should().BeEquivalentTo(Enumerable.Range(0, Total).Select(i => $"-#{i}"), "every keyless message is handled exactly once");
        bus.Snapshot<ScriptedHandler>().Succeeded.Should().Be(Total);
    }

    [Fact]
    public async Task PublishAsync_WaitPolicyOneKeyFillsTheCapacity_AnotherKeyWaitsThoughItsWorkerIsIdle()
    {
        await using var bus = await StartFullAsync(FullPolicy.Wait, out var busy, out var idle);
        await FillAsync(bus, busy);

        var waiting = PublishAsync(bus, idle, 0).AsTask();

        waiting.IsCompleted.Should().BeFalse("the capacity bounds all lanes together");
        bus.Snapshot<ScriptedHandler>().Should().Match<SubscriptionSnapshot>(s => s.Depth == Capacity && s.InFlight == 1);
        bus.Get<Gate<ScriptedHandler>>().Open();
        await waiting.Within();
        var handled = await bus.Log<ScriptedHandler, string>().WaitForCountAsync(Capacity + 2);
        handled.Where(h => h.StartsWith(busy, StringComparison.Ordinal)).Should().Equal(Enumerable.Range(0, Capacity + 1).Select(i => $"{busy}#{i}"));
        handled.Should().Contain($"{idle}#0");
        bus.Snapshot<ScriptedHandler>().Dropped.Should().Be(0);
    }

    [Fact]
    public async Task PublishAsync_FailFastCapacityReached_ThrowsBufferFullExceptionForAnyKey()
    {
        await using var bus = await StartFullAsync(FullPolicy.FailFast, out var busy, out var idle);
        await FillAsync(bus, busy);

        var publish = async () => await PublishAsync(bus, idle, 0);

        var thrown = await publish.Should().ThrowAsync<BufferFullException>();
        thrown.Which.Capacity.Should().Be(Capacity);
        thrown.Which.Subscription.Should().Be(typeof(ScriptedHandler).FullName);
        bus.Get<Gate<ScriptedHandler>>().Open();
        await bus.Log<ScriptedHandler, string>().WaitForCountAsync(Capacity + 1);
        await PublishAsync(bus, idle, 1);
        (await bus.Log<ScriptedHandler, string>().WaitForCountAsync(Capacity + 2)).Should().NotContain($"{idle}#0").And.Contain($"{idle}#1");
    }

    [Fact]
    public async Task PublishAsync_DropNewestCapacityReached_DropsNewMessagesOfEveryKeyCountsAndReportsThem()
    {
        await using var bus = await StartFullAsync(FullPolicy.DropNewest, out var busy, out var idle);
        await FillAsync(bus, busy);

        PublishAsync(bus, idle, 0).IsCompletedSuccessfully.Should().BeTrue("a drop policy never makes the publisher wait");
        PublishAsync(bus, busy, Capacity + 1).IsCompletedSuccessfully.Should().BeTrue();

        bus.Snapshot<ScriptedHandler>().Dropped.Should().Be(2);
        bus.Undelivered.Items.Should().OnlyContain(u => u.Reason == UndeliveredReason.DroppedNewest && u.Subscription == typeof(ScriptedHandler).FullName)
            .And.Subject.Select(u => (Keyed)u.Message).Should().Equal(new Keyed(idle, 0), new Keyed(busy, Capacity + 1));
        bus.Get<Gate<ScriptedHandler>>().Open();
        await bus.Log<ScriptedHandler, string>().WaitForCountAsync(Capacity + 1);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<ScriptedHandler, string>().Items.Should().Equal(Enumerable.Range(0, Capacity + 1).Select(i => $"{busy}#{i}"));
        bus.Snapshot<ScriptedHandler>().Should().Match<SubscriptionSnapshot>(s => s.Succeeded == Capacity + 1 && s.Dropped == 2);
    }

    [Fact]
    public async Task StopAsync_TimeoutExpiresWithKeysHeld_ReportsTheirBufferedLaneMessagesAsNotStartedBeforeStop()
    {
        var first = KeyOnWorker(0, 2);
        var second = KeyOnWorker(1, 2);
        await using var bus = await StartScriptedAsync(
            o => o.Workers = 2,
            configure: b => b.Configure(o => o.StopTimeout = TimeSpan.FromMilliseconds(200)));
        var started = bus.Get<Recorder<ScriptedHandler, (string Key, int Seq, int DeliveryCount)>>();

        await PublishAsync(bus, first, 0, hold: true);
        await PublishAsync(bus, second, 0, hold: true);
        await started.WaitForCountAsync(2);
        await PublishAsync(bus, first, 1);
        await PublishAsync(bus, first, 2);
        await PublishAsync(bus, second, 1);
        bus.Snapshot<ScriptedHandler>().Depth.Should().Be(3);

        var report = await bus.Control.StopAsync();

        report.Drained.Should().BeFalse();
        report.Unfinished.Where(u => u.Reason == UndeliveredReason.CancelledByStop).Select(u => (Keyed)u.Message)
            .Should().BeEquivalentTo([new Keyed(first, 0, Hold: true), new Keyed(second, 0, Hold: true)], "the held messages were in their handlers");
        report.Unfinished.Where(u => u.Reason == UndeliveredReason.NotStartedBeforeStop).Select(u => (Keyed)u.Message)
            .Should().BeEquivalentTo([new Keyed(first, 1), new Keyed(first, 2), new Keyed(second, 1)], "every lane's buffered messages are reported");
        report.Unfinished.Should().HaveCount(5);
        bus.Undelivered.Items.Should().BeEquivalentTo(report.Unfinished, "unfinished messages are also reported to OnUndelivered");
        bus.Log<ScriptedHandler, string>().Count.Should().Be(0);
        bus.Snapshot<ScriptedHandler>().Depth.Should().Be(0);
    }

    [Fact]
    public async Task PublishAsync_FromAHandlerIntoItsOwnFullLane_ThrowsInsteadOfDeadlocking()
    {
        var key = KeyOnWorker(0, 2);
        await using var bus = await StartScriptedAsync(o =>
        {
            o.Workers = 2;
            o.Capacity = 2;
        });
        var cascades = bus.Get<Recorder<ScriptedHandler, Exception?>>();

        await PublishAsync(bus, key, 0, hold: true, cascade: true);
        await bus.Get<Recorder<ScriptedHandler, (string Key, int Seq, int DeliveryCount)>>().WaitForCountAsync(1);
        await PublishAsync(bus, key, 1);
        await PublishAsync(bus, key, 2);
        bus.Get<Gate<ScriptedHandler>>().Open();

        // Everything buffered is in the publishing worker's own lane: only that worker could make room.
        var thrown = (await cascades.WaitForCountAsync(1)).Single();
        thrown.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Contain("would deadlock").And.Contain(typeof(ScriptedHandler).FullName);
        (await bus.Log<ScriptedHandler, string>().WaitForCountAsync(3)).Should().Equal($"{key}#0", $"{key}#1", $"{key}#2");
    }

    [Fact]
    public async Task PublishAsync_FromAHandlerWhileAnotherLaneHoldsMessages_WaitsForThatLanesWorkerAndSucceeds()
    {
        var key = KeyOnWorker(0, 2);
        var other = KeyOnWorker(1, 2);
        await using var bus = await StartScriptedAsync(o =>
        {
            o.Workers = 2;
            o.Capacity = 2;
        });
        var cascades = bus.Get<Recorder<ScriptedHandler, Exception?>>();
        var started = bus.Get<Recorder<ScriptedHandler, (string Key, int Seq, int DeliveryCount)>>();
        var otherGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bus.Get<FailPlan>().HoldOn(other, 0, otherGate.Task);

        await PublishAsync(bus, key, 0, hold: true, cascade: true);
        await PublishAsync(bus, other, 0);
        await started.WaitForCountAsync(2);
        await PublishAsync(bus, key, 1);
        await PublishAsync(bus, other, 1); // the subscription is full: one message in each lane
        bus.Get<Gate<ScriptedHandler>>().Open();

        // The cascade is being published into a full subscription whose other lane holds a message: its worker can make room.
        await bus.Get<Recorder<ScriptedHandler, Keyed>>().WaitForCountAsync(1);
        cascades.Count.Should().Be(0, "the cascade waits: no room is made until the other worker takes its message");
        otherGate.SetResult();

        (await cascades.WaitForCountAsync(1)).Single().Should().BeNull("the cascade was published once the other worker took its message");
        (await bus.Log<ScriptedHandler, string>().WaitForCountAsync(5)).Where(h => h.StartsWith(key, StringComparison.Ordinal))
            .Should().Equal($"{key}#0", $"{key}#1", $"{key}#1000");
    }

    [Fact]
    public async Task GetService_KeyOrderedWithABatchHandlerAndWithDropOldest_ThrowsOneOptionsValidationExceptionNamingEach()
    {
        await using var bus = TestBus.Build(b => b
            .AddBatchEventHandler<Keyed, KeyedBatchHandler>(maxBatchSize: 10, maxWait: TimeSpan.Zero)
            .ConfigureSubscription<KeyedBatchHandler>(o => o.Mode = DeliveryMode.KeyOrdered)
            .AddEventHandler<Keyed, ScriptedHandler>()
            .ConfigureSubscription<ScriptedHandler>(o =>
            {
                o.Mode = DeliveryMode.KeyOrdered;
                o.FullPolicy = FullPolicy.DropOldest;
            })
            .AddCommandHandler<Deposit, int, DepositHandler>()
            .ConfigureSubscription<DepositHandler>(o => o.Mode = DeliveryMode.KeyOrdered)
            .Configure(o => o.DefaultFullPolicy = FullPolicy.DropOldest));

        var resolve = () => bus.Bus;

        var thrown = resolve.Should().Throw<OptionsValidationException>().Which;
        thrown.Failures.Should().HaveCount(4, "the batch handler is refused for both reasons, the two others for their full policy");
        thrown.Failures.Should().ContainSingle(f => f.StartsWith($"SubscriptionOptions.Mode of subscription '{typeof(KeyedBatchHandler).FullName}'", StringComparison.Ordinal))
            .Which.Should().Contain("is KeyOrdered").And.Contain("batch handler");
        foreach (var handler in new[] { typeof(KeyedBatchHandler), typeof(ScriptedHandler), typeof(DepositHandler) })
        {
            thrown.Failures.Should().ContainSingle(f => f.StartsWith($"SubscriptionOptions.FullPolicy of subscription '{handler.FullName}'", StringComparison.Ordinal))
                .Which.Should().Contain("is DropOldest").And.Contain("KeyOrdered");
        }
    }

    [Fact]
    public async Task SendQueuedAsync_KeyOrderedCommandQueue_EachAccountsCommandsHandledInSendOrderAndEverySenderGetsItsResult()
    {
        const int Accounts = 8, PerAccount = 50;
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<Deposit, int, DepositHandler>()
            .ConfigureSubscription<DepositHandler>(o => o.Mode = DeliveryMode.KeyOrdered)
            .Configure(o => o.QueueWorkers = FourWorkers));

        var sends = new List<(int Seq, Task<CommandResult<int>> Result)>();
        for (var seq = 0; seq < PerAccount; seq++)
        {
            for (var a = 0; a < Accounts; a++)
            {
                var account = $"account-{a}";
                sends.Add((seq, bus.Get<ICommandSender<Deposit, int>>().SendQueuedAsync(new Deposit(account, seq), new PublishOptions { PartitionKey = account }).AsTask()));
            }
        }

        var results = await Task.WhenAll(sends.Select(s => s.Result)).Within();

        results.Select(r => r.Value).Should().Equal(sends.Select(s => s.Seq), "every sender gets its own command's result");
        var handled = bus.Log<DepositHandler, (string Account, int Seq)>().Items;
        handled.Should().HaveCount(Accounts * PerAccount);
        foreach (var account in handled.GroupBy(h => h.Account))
        {
            account.Select(h => h.Seq).Should().Equal(Enumerable.Range(0, PerAccount), $"{account.Key}'s commands are handled in send order, each once");
        }

        bus.Control.GetSnapshot().Single(s => s.Topic == typeof(Deposit).FullName).Should().Match<SubscriptionSnapshot>(s =>
            s.Mode == DeliveryMode.KeyOrdered && s.Workers == FourWorkers && s.Succeeded == Accounts * PerAccount);
    }

    [Fact]
    public async Task DescribeTopology_KeyOrderedSubscriptionAndCommandQueue_ShowTheirModeAndWorkers()
    {
        await using var bus = await StartScriptedAsync(configure: b => b
            .AddCommandHandler<Deposit, int, DepositHandler>()
            .ConfigureSubscription<DepositHandler>(o =>
            {
                o.Mode = DeliveryMode.KeyOrdered;
                o.Workers = 3;
            }));

        var topology = bus.Control.DescribeTopology();

        topology.Topics.Single(t => t.MessageType == typeof(Keyed)).Subscriptions.Should().ContainSingle()
            .Which.Should().Match<SubscriptionDescription>(s => s.Mode == DeliveryMode.KeyOrdered && s.Workers == FourWorkers && !s.IsBatch);
        topology.Topics.Single(t => t.MessageType == typeof(Deposit)).Subscriptions.Should().ContainSingle()
            .Which.Should().Match<SubscriptionDescription>(s => s.Mode == DeliveryMode.KeyOrdered && s.Workers == 3);
        topology.ToMermaid().Should().Contain("-->|key-ordered x4|");
    }

    [Fact]
    public void KeyedLanes_AnySequenceOfKeys_EachKeyInOneLaneInWriteOrderAndKeylessEvenlySpread()
    {
        var keys = Gen.Frequency((1, Gen.Const((string?)null)), (4, Gen.Int[0, 40].Select(k => (string?)$"k{k}")));
        Gen.Select(Gen.Int[1, 8], keys.Array[0, 300]).Sample((workers, written) =>
        {
            var lanes = new KeyedLanes(workers, capacity: 16);
            for (var i = 0; i < written.Length; i++)
            {
                var options = written[i] is { } key ? new PublishOptions { PartitionKey = key } : null;
                lanes.TryWrite(new Envelope(i, MessageContext.Stamped("t", options, null, TimeProvider.System))).Should().BeTrue();
            }

            var read = new List<(int Lane, int Index)>();
            for (var lane = 0; lane < workers; lane++)
            {
                while (lanes[lane].TryRead(out var envelope))
                {
                    read.Add((lane, (int)envelope.Message));
                }
            }

            read.Select(r => r.Index).Order().Should().Equal(Enumerable.Range(0, written.Length), "every envelope is in exactly one lane");
            foreach (var key in read.GroupBy(r => written[r.Index]).Where(g => g.Key is not null))
            {
                key.Select(r => r.Lane).Distinct().Should().Equal([PartitionKeys.WorkerOf(key.Key!, workers)], "a key has one lane, the one its hash gives");
                key.Select(r => r.Index).Should().BeInAscendingOrder("a lane keeps its key's write order");
            }

            var keyless = read.Where(r => written[r.Index] is null).GroupBy(r => r.Lane).Select(g => g.Count()).ToList();
            if (keyless.Count > 0)
            {
                (keyless.Max() - (keyless.Count < workers ? 0 : keyless.Min())).Should().BeLessThanOrEqualTo(1, "keyless envelopes go round the lanes");
            }
        });
    }

    /// <summary>The <paramref name="skip"/>-th key named <c>key-n</c> that <paramref name="workers"/> workers give to worker <paramref name="worker"/>.</summary>
    private static string KeyOnWorker(int worker, int workers, int skip = 0) =>
        Enumerable.Range(0, 10_000).Select(n => $"key-{n}").Where(k => PartitionKeys.WorkerOf(k, workers) == worker).Skip(skip).First();

    private static ValueTask PublishAsync(TestBus bus, string? key, int seq, bool hold = false, bool cascade = false, int publisher = 0) =>
        bus.Bus.PublishAsync(new Keyed(key, seq, hold, cascade, publisher), key is null ? null : new PublishOptions { PartitionKey = key });

    private static Task<TestBus> StartProbedAsync() =>
        TestBus.StartAsync(
            b => b.AddEventHandler<Keyed, ProbedHandler>(ServiceLifetime.Singleton).ConfigureSubscription<ProbedHandler>(o =>
            {
                o.Mode = DeliveryMode.KeyOrdered;
                o.Workers = FourWorkers;
            }),
            s => s.AddSingleton<KeyProbe>());

    private static Task<TestBus> StartScriptedAsync(Action<SubscriptionOptions>? subscription = null, FakeTimeProvider? time = null, Action<EventBusBuilder>? configure = null) =>
        TestBus.StartAsync(
            b =>
            {
                b.AddEventHandler<Keyed, ScriptedHandler>().ConfigureSubscription<ScriptedHandler>(o =>
                {
                    o.Mode = DeliveryMode.KeyOrdered;
                    o.Workers = FourWorkers;
                    subscription?.Invoke(o);
                });
                configure?.Invoke(b);
            },
            s =>
            {
                s.AddSingleton<FailPlan>();
                if (time is not null)
                {
                    s.AddSingleton<TimeProvider>(time);
                }
            });

    /// <summary>Two workers and a capacity of 4 under <paramref name="policy"/>; <paramref name="busy"/> and <paramref name="idle"/> map to different workers.</summary>
    private static Task<TestBus> StartFullAsync(FullPolicy policy, out string busy, out string idle)
    {
        busy = KeyOnWorker(0, 2);
        idle = KeyOnWorker(1, 2);
        return StartScriptedAsync(o =>
        {
            o.Workers = 2;
            o.Capacity = Capacity;
            o.FullPolicy = policy;
        });
    }

    /// <summary><paramref name="key"/>#0 held in its handler, #1 to #4 in its lane: the subscription is exactly full, the other worker idle.</summary>
    private static async Task FillAsync(TestBus bus, string key)
    {
        await PublishAsync(bus, key, 0, hold: true);
        await bus.Get<Recorder<ScriptedHandler, (string Key, int Seq, int DeliveryCount)>>().WaitForCountAsync(1);
        for (var i = 1; i <= Capacity; i++)
        {
            PublishAsync(bus, key, i).IsCompletedSuccessfully.Should().BeTrue("there is room for {0} buffered messages", Capacity);
        }
    }

    /// <summary>A message of a key; <paramref name="Hold"/> keeps it in its handler until the gate opens, <paramref name="Cascade"/> makes its handler publish <c>Key#1000</c>.</summary>
    public sealed record Keyed(string? Key, int Seq, bool Hold = false, bool Cascade = false, int Publisher = 0);

    public sealed record Deposit(string Account, int Seq) : ICommand<int>;

    /// <summary>What the probed handler saw: per key, what it handled in order, and whether two messages of a key ever overlapped.</summary>
    public sealed class KeyProbe
    {
        private readonly ConcurrentDictionary<string, StrongBox<int>> _inside = new();
        private readonly TaskCompletionSource _allHandled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _expected = int.MaxValue;
        private int _overlaps;
        private int _handled;

        public ConcurrentDictionary<string, ConcurrentQueue<(string? Key, int Publisher, int Seq)>> PerKey { get; } = new();

        public int Overlaps => Volatile.Read(ref _overlaps);

        public int Handled => Volatile.Read(ref _handled);

        public Task AllHandled => _allHandled.Task;

        public void Expect(int count) => Volatile.Write(ref _expected, count);

        public void Enter(string key)
        {
            if (Interlocked.Increment(ref _inside.GetOrAdd(key, static _ => new StrongBox<int>()).Value) != 1)
            {
                Interlocked.Increment(ref _overlaps);
            }
        }

        public void Leave(string key, Keyed handled)
        {
            PerKey.GetOrAdd(key, static _ => new()).Enqueue((handled.Key, handled.Publisher, handled.Seq));
            Interlocked.Decrement(ref _inside[key].Value);
            if (Interlocked.Increment(ref _handled) == Volatile.Read(ref _expected))
            {
                _allHandled.TrySetResult();
            }
        }
    }

    /// <summary>Counts overlaps per key; every fifth message completes asynchronously, which widens the window a second message of its key would need.</summary>
    public sealed class ProbedHandler(KeyProbe probe) : IEventHandler<Keyed>
    {
        public async ValueTask HandleAsync(Keyed @event, MessageContext context, CancellationToken cancellationToken)
        {
            var key = context.PartitionKey!;
            probe.Enter(key);
            if (@event.Seq % 5 == 0)
            {
                await Task.Yield();
            }

            probe.Leave(key, @event);
        }
    }

    /// <summary>Which attempts fail, and which messages wait on a task of the test's, per (key, seq).</summary>
    public sealed class FailPlan
    {
        private readonly ConcurrentDictionary<(string?, int), int> _failures = new();
        private readonly ConcurrentDictionary<(string?, int), Task> _holds = new();

        public void Fail(string key, int seq, int attempts) => _failures[(key, seq)] = attempts;

        public void Fix(string key, int seq) => _failures.TryRemove((key, seq), out _);

        public void HoldOn(string key, int seq, Task until) => _holds[(key, seq)] = until;

        public bool Fails(Keyed message, int deliveryCount) => _failures.TryGetValue((message.Key, message.Seq), out var attempts) && deliveryCount <= attempts;

        public Task HoldOf(Keyed message) => _holds.TryGetValue((message.Key, message.Seq), out var until) ? until : Task.CompletedTask;
    }

    /// <summary>
    /// Records each attempt as it starts, waits at the gate (honouring the token) or on the plan's task when asked, fails as the plan says,
    /// publishes a cascade when asked (recording that it does, then what the publish threw, or null), and records what it handled
    /// (<c>key#seq</c>, <c>-#seq</c> without a key).
    /// </summary>
    public sealed class ScriptedHandler(
        FailPlan plan,
        Gate<ScriptedHandler> gate,
        IEventBus events,
        Recorder<ScriptedHandler, (string Key, int Seq, int DeliveryCount)> attempts,
        Recorder<ScriptedHandler, Keyed> cascading,
        Recorder<ScriptedHandler, Exception?> cascades,
        Recorder<ScriptedHandler, string> handled) : IEventHandler<Keyed>
    {
        public async ValueTask HandleAsync(Keyed @event, MessageContext context, CancellationToken cancellationToken)
        {
            var name = $"{@event.Key ?? "-"}#{@event.Seq}";
            attempts.Add((@event.Key ?? "-", @event.Seq, context.DeliveryCount));
            if (@event.Hold)
            {
                await gate.WaitAsync(cancellationToken);
            }

            await plan.HoldOf(@event).WaitAsync(cancellationToken);
            if (plan.Fails(@event, context.DeliveryCount))
            {
                throw new InvalidOperationException($"{name} failed attempt {context.DeliveryCount}");
            }

            if (@event.Cascade)
            {
                var cascade = new Keyed(@event.Key, 1000);
                cascading.Add(cascade);
                try
                {
                    await events.PublishAsync(cascade, new PublishOptions { PartitionKey = @event.Key }, cancellationToken);
                    cascades.Add(null);
                }
                catch (InvalidOperationException e)
                {
                    cascades.Add(e);
                }
            }

            handled.Add(name);
        }
    }

    public sealed class KeyedBatchHandler : IBatchEventHandler<Keyed>
    {
        public ValueTask HandleAsync(IReadOnlyList<Keyed> events, IReadOnlyList<MessageContext> contexts, CancellationToken cancellationToken) => default;
    }

    public sealed class DepositHandler(Recorder<DepositHandler, (string Account, int Seq)> log) : ICommandHandler<Deposit, int>
    {
        public async ValueTask<CommandResult<int>> HandleAsync(Deposit command, MessageContext context, CancellationToken cancellationToken)
        {
            if (command.Seq % 3 == 0)
            {
                await Task.Yield();
            }

            log.Add((context.PartitionKey!, command.Seq));
            return command.Seq;
        }
    }
}
