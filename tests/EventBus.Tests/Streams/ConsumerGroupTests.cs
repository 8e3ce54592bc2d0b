using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Streams;

/// <summary>Consumer groups: start positions, committed offsets, resume, seek, commit modes and failure policies.</summary>
public sealed class ConsumerGroupTests
{
    public static TheoryData<string, long[]> StartPositions => new()
    {
        { "First", [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10] },
        { "Last", [9, 10] },
        { "Next", [10] },
        { "Offset4", [4, 5, 6, 7, 8, 9, 10] },
        { "Offset99", [10] },
    };

    [Theory]
    [MemberData(nameof(StartPositions))]
    public async Task Subscribe_NoCommittedOffset_StartsAtItsStartPosition(string start, long[] expected)
    {
        var position = start switch
        {
            "First" => StreamPosition.First,
            "Last" => StreamPosition.Last,
            "Next" => StreamPosition.Next,
            "Offset4" => StreamPosition.AtOffset(4),
            _ => StreamPosition.AtOffset(99),
        };
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        await bus.PublishReadingsAsync(0, 10);
        var log = new GroupLog();

        await using var group = await bus.SubscribeAsync("g", log, o => o.StartPosition = position);
        await bus.PublishReadingsAsync(10, 1);

        await log.WaitForCountAsync(expected.Length);
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == 11, "the group committed the last event");
        log.Offsets.Should().Equal(expected);
    }

    [Fact]
    public async Task Groups_CaughtUpBetweenTrickles_EachReadEveryEventOnceInOrder()
    {
        // Every trickle starts after all four groups caught up, so each one goes through staying awake (yielding), then
        // parking, then being woken by the next append: no event may be missed or read twice on the way.
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10_000));
        var (logs, groups) = await SubscribeFourGroupsFromFirstAsync(bus);

        var published = 0;
        for (var trickle = 0; trickle < 200; trickle++)
        {
            var count = 1 + (trickle % 3);
            await bus.PublishReadingsAsync(published, count);
            published += count;
            foreach (var log in logs)
            {
                await log.WaitForCountAsync(published);
            }
        }

        await StopWhenCommittedAsync(groups, published);

        foreach (var log in logs)
        {
            log.Numbers.Should().Equal(Enumerable.Range(0, published));
        }
    }

    [Fact]
    public async Task Groups_ReadingWhilePublishersAppendSinglesAndBatches_EachReadTheWholeLogOnceInItsOrder()
    {
        // Groups that keep up read at the head while it moves. Two publishers append singles and batches across many segments
        // while four groups read: each group must read exactly the log, offset by offset, in the log's order.
        const int PerPublisher = 3_000, BatchSize = 7;
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10_000));
        var (logs, groups) = await SubscribeFourGroupsFromFirstAsync(bus);

        await Task.WhenAll(Enumerable.Range(0, 2).Select(publisher => Task.Run(async () =>
        {
            var first = publisher * PerPublisher;
            for (var i = 0; i < PerPublisher;)
            {
                if (i % 3 == 0 && i + BatchSize <= PerPublisher)
                {
                    await bus.Bus.PublishBatchAsync(Enumerable.Range(first + i, BatchSize).Select(n => new Reading(n)).ToList());
                    i += BatchSize;
                }
                else
                {
                    await bus.Bus.PublishAsync(new Reading(first + i));
                    i++;
                }
            }
        })));

        const int Total = 2 * PerPublisher;
        var logged = (await StreamLogTests.ReadAllAsync(bus, StreamPosition.First)).Select(e => e.Event.Number).ToList();
        logged.Should().HaveCount(Total).And.OnlyHaveUniqueItems();
        foreach (var log in logs)
        {
            await log.WaitForCountAsync(Total);
        }

        await StopWhenCommittedAsync(groups, Total);

        foreach (var log in logs)
        {
            log.Offsets.Should().Equal(Enumerable.Range(0, Total).Select(i => (long)i), "a group reads every offset once, in order");
            log.Numbers.Should().Equal(logged, "a group reads the events in the log's order");
        }
    }

    [Fact]
    public async Task Subscribe_AtTimestamp_StartsAtTheFirstEventPublishedAtOrAfterIt()
    {
        var start = new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero);
        var time = new FakeTimeProvider(start);
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000), s => s.AddSingleton<TimeProvider>(time));
        await bus.PublishReadingsAsync(0, 5);
        time.Advance(TimeSpan.FromMinutes(1));
        await bus.PublishReadingsAsync(5, 5);
        var log = new GroupLog();

        await using var group = await bus.SubscribeAsync("g", log, o => o.StartPosition = StreamPosition.AtTimestamp(start.AddSeconds(30)));

        await log.WaitForCountAsync(5);
        log.Numbers.Should().Equal(5, 6, 7, 8, 9);
    }

    [Fact]
    public async Task Resubscribe_AfterDispose_ContinuesFromTheCommittedOffsetWithNothingSkippedOrRepeated()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10_000));
        var first = new GroupLog();
        var group = await bus.SubscribeAsync("projection", first, o => o.StartPosition = StreamPosition.First);
        await bus.PublishReadingsAsync(0, 500);
        await first.WaitForCountAsync(500);
        await group.DisposeAsync();
        group.GetSnapshot().State.Should().Be(SubscriptionState.Stopped);

        await bus.PublishReadingsAsync(500, 300); // while the group is away
        bus.Streams().GetStreamInfo<Reading>().Groups.Should().ContainSingle()
            .Which.Should().Match<SubscriptionSnapshot>(g => g.Subscription == "projection" && g.CommittedOffset == 500 && g.Lag == 300 && g.State == SubscriptionState.Stopped);

        var second = new GroupLog();
        await using var resumed = await bus.SubscribeAsync("projection", second, o => o.StartPosition = StreamPosition.First);
        await second.WaitForCountAsync(300);
        await Wait.UntilAsync(() => resumed.GetSnapshot().Lag == 0, "the resumed group caught up");

        first.Offsets.Concat(second.Offsets).Should().Equal(Enumerable.Range(0, 800).Select(i => (long)i));
        resumed.GetSnapshot().Skipped.Should().Be(0);
    }

    [Fact]
    public async Task Resubscribe_NoRetentionAndShortAbsence_EventsAreKeptForTheStoppedGroupUpToItsCapacity()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>());
        var first = new GroupLog();
        var group = await bus.SubscribeAsync("g", first, o => o.Capacity = 2000);
        await bus.PublishReadingsAsync(0, 100);
        await first.WaitForCountAsync(100);
        await group.DisposeAsync();
        await bus.PublishReadingsAsync(100, 1500); // three segments' worth while away, within the group's capacity

        var second = new GroupLog();
        await using var resumed = await bus.SubscribeAsync("g", second, o => o.Capacity = 2000);
        await second.WaitForCountAsync(1500);

        second.Offsets.Should().Equal(Enumerable.Range(100, 1500).Select(i => (long)i));
        resumed.GetSnapshot().Skipped.Should().Be(0);
    }

    [Fact]
    public async Task TwoGroups_SameStream_KeepSeparateOffsets()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        var a = new GroupLog();
        var b = new GroupLog();
        await using var groupA = await bus.SubscribeAsync("a", a, o => o.StartPosition = StreamPosition.First);
        await bus.PublishReadingsAsync(0, 20);
        await a.WaitForCountAsync(20);
        await using var groupB = await bus.SubscribeAsync("b", b, o => o.StartPosition = StreamPosition.AtOffset(15));
        await b.WaitForCountAsync(5);

        a.Offsets.Should().Equal(Enumerable.Range(0, 20).Select(i => (long)i));
        b.Offsets.Should().Equal(15, 16, 17, 18, 19);
        var groups = bus.Streams().GetStreamInfo<Reading>().Groups;
        groups.Select(g => (g.Subscription, g.CommittedOffset, g.State)).Should().Equal(("a", (long?)20, SubscriptionState.Running), ("b", (long?)20, SubscriptionState.Running));
    }

    [Fact]
    public async Task Subscribe_GroupAlreadyRunning_ThrowsNamingTheGroup()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>());
        await using var group = await bus.SubscribeAsync("g", new GroupLog());

        await bus.Invoking(b => b.SubscribeAsync("g", new GroupLog()).AsTask()).Should().ThrowAsync<InvalidOperationException>()
            .WithMessage("Consumer group 'g' is already running on stream '*Reading'; dispose its subscription before starting it again.");
        bus.Streams().GetSubscription<Reading>("g").Should().BeSameAs(group);
    }

    [Fact]
    public async Task Seek_RunningGroup_ReadsAgainFromTheNewPositionAndCommitsIt()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        var log = new GroupLog();
        await using var group = await bus.SubscribeAsync("g", log, o => o.StartPosition = StreamPosition.First);
        await bus.PublishReadingsAsync(0, 10);
        await log.WaitForCountAsync(10);

        var offset = await group.SeekAsync(StreamPosition.AtOffset(6)).AsTask().Within();
        await log.WaitForCountAsync(14);

        offset.Should().Be(6);
        log.Offsets.Should().Equal(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 6, 7, 8, 9);
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == 10, "the group committed again after the re-read");
    }

    [Fact]
    public async Task Seek_StoppedGroup_MovesTheOffsetItResumesFrom()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        var first = new GroupLog();
        var group = await bus.SubscribeAsync("g", first, o => o.StartPosition = StreamPosition.First);
        await bus.PublishReadingsAsync(0, 10);
        await first.WaitForCountAsync(10);
        await group.DisposeAsync();

        (await bus.Streams().SeekAsync<Reading>("g", StreamPosition.AtOffset(3))).Should().Be(3);
        var second = new GroupLog();
        await using var resumed = await bus.SubscribeAsync("g", second);
        await second.WaitForCountAsync(7);

        second.Offsets.Should().Equal(3, 4, 5, 6, 7, 8, 9);
    }

    [Fact]
    public async Task ManualCommit_GroupRestarts_ResumesAfterTheLastEventTheHandlerCommitted()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        await bus.PublishReadingsAsync(0, 10);
        var seen = new GroupLog();
        var group = await bus.Streams().SubscribeAsync<Reading>("manual", (r, context, _) =>
        {
            if (r.Number == 5)
            {
                context.Settlement!.Value.Commit();
            }

            return seen.Record(r, context);
        }, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.AckMode = AckMode.Manual;
        });
        await seen.WaitForCountAsync(10);
        await group.DisposeAsync();
        group.GetSnapshot().CommittedOffset.Should().Be(6);

        var again = new GroupLog();
        await using var resumed = await bus.SubscribeAsync("manual", again, o => o.AckMode = AckMode.Manual);
        await again.WaitForCountAsync(4);
        again.Offsets.Should().Equal(6, 7, 8, 9);
    }

    [Fact]
    public async Task Commit_AfterTheDeliveryOrOutsideAGroupDelivery_Throws()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>().AddEventHandler<Reading, StreamLogTests.OffsetRecorder>(ServiceLifetime.Singleton));
        MessageContext kept = default;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var group = await bus.Streams().SubscribeAsync<Reading>("g", (_, context, _) =>
        {
            kept = context;
            done.TrySetResult();
            return default;
        });
        await bus.PublishReadingsAsync(0, 1);
        await done.Task.Within();

        kept.Settlement!.Value.CanCommit.Should().BeTrue();
        kept.Settlement!.Value.Invoking(s => s.Commit()).Should().Throw<InvalidOperationException>().WithMessage("*delivery has already ended*");
        default(MessageContext).Settlement.Should().BeNull("an envelope outside a delivery has no settlement");
        default(MessageSettlement).Invoking(s => s.Commit()).Should().Throw<InvalidOperationException>().WithMessage("*stream consumer group*");
    }

    [Fact]
    public async Task AtMostOnce_HandlerFails_NeitherRetriedNorDeadLetteredButReportedAndTheGroupGoesOn()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        await bus.PublishReadingsAsync(0, 6);
        var seen = new GroupLog();
        var group = await bus.Streams().SubscribeAsync<Reading>("once", async (r, context, _) =>
        {
            await seen.Record(r, context);
            if (r.Number == 3)
            {
                throw new InvalidOperationException("boom");
            }
        }, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.AckMode = AckMode.BeforeHandling;
            o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 2 };
        });

        await seen.WaitForCountAsync(6);
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == 6, "the group committed every event");

        seen.Offsets.Should().Equal([0, 1, 2, 3, 4, 5], "at-most-once attempts each event once, the failed one included");
        var report = bus.Undelivered.Items.Should().ContainSingle().Subject;
        report.Reason.Should().Be(UndeliveredReason.HandlerFailed);
        report.Context.Offset.Should().Be(3);
        report.Exception.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be("boom");
        bus.Get<IDeadLetterQueue>().GetDeadLetters().Should().BeEmpty("an at-most-once failure is reported, not dead-lettered");
        await group.DisposeAsync();
        group.Completion.IsCompletedSuccessfully.Should().BeTrue();
    }

    [Fact]
    public async Task AtMostOnce_WithFailurePolicyStop_IsRejected()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>());

        var failures = (await bus.Invoking(b => b.SubscribeAsync("once", new GroupLog(), o =>
        {
            o.AckMode = AckMode.BeforeHandling;
            o.StopOnFailure = true;
        }).AsTask()).Should().ThrowAsync<OptionsValidationException>()).Which.Failures;

        failures.Should().ContainSingle().Which.Should().StartWith(
            $"ConsumerGroupOptions.StopOnFailure of consumer group 'once' on stream '{typeof(Reading).FullName}' is true with AckMode BeforeHandling");
    }

    [Fact]
    public async Task FailurePolicyStop_HandlerFailsEveryAttempt_GroupStopsOnTheEventAndResumesThere()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        await bus.PublishReadingsAsync(0, 10);
        var attempts = 0;
        var seen = new GroupLog();
        var group = await bus.Streams().SubscribeAsync<Reading>("strict", async (r, context, _) =>
        {
            if (r.Number == 4 && Interlocked.Increment(ref attempts) <= 3)
            {
                throw new TimeoutException("downstream unavailable");
            }

            await seen.Record(r, context);
        }, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.StopOnFailure = true;
            o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 2 };
        });

        await group.Completion.Invoking(c => c.Within()).Should().ThrowAsync<TimeoutException>();
        seen.Offsets.Should().Equal(0, 1, 2, 3);
        group.GetSnapshot().CommittedOffset.Should().Be(4);
        group.GetSnapshot().Should().Match<SubscriptionSnapshot>(s => s.State == SubscriptionState.Faulted && s.InFlight == 0
            && s.Delivered == 7 && s.Succeeded == 4 && s.Retried == 2 && s.Failed == 1 && s.DeadLettered == 0 && s.DeadLetters == 0,
            "the group stopped on its fourth event, after three attempts, without dead-lettering it");
        bus.Streams().GetStreamInfo<Reading>().Groups.Single().State.Should().Be(SubscriptionState.Stopped);

        await using var resumed = await bus.Streams().SubscribeAsync<Reading>("strict", (r, c, _) => seen.Record(r, c));
        await seen.WaitForCountAsync(10);
        seen.Offsets.Should().Equal(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        attempts.Should().Be(3, "MaxDeliveries attempts before the group stopped; the restarted group handled offset 4 first");
    }

    [Fact]
    public async Task HandlerTimeout_HandlerHangsHonouringItsToken_AttemptsTimeOutThenTheEventIsDeadLetteredAndTheGroupGoesOn()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000), s => s.AddSingleton<TimeProvider>(time));
        await bus.PublishReadingsAsync(0, 5);
        var seen = new GroupLog();
        var hangs = new Recorder<int>();
        await using var group = await bus.Streams().SubscribeAsync<Reading>("slow", async (r, context, ct) =>
        {
            if (r.Number == 2)
            {
                hangs.Add(context.DeliveryCount);
                await Task.Delay(Timeout.InfiniteTimeSpan, ct); // honours the token: ends when the timeout cancels it
            }

            await seen.Record(r, context);
        }, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.HandlerTimeout = TimeSpan.FromSeconds(5);
            o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 };
        });

        await hangs.WaitForCountAsync(1);
        time.Advance(TimeSpan.FromSeconds(5));
        await hangs.WaitForCountAsync(2); // the second attempt started, in place
        time.Advance(TimeSpan.FromSeconds(5));
        await seen.WaitForCountAsync(4);

        seen.Offsets.Should().Equal(0, 1, 3, 4);
        hangs.Items.Should().Equal(1, 2);
        var deadLetter = bus.Get<IDeadLetterQueue>().GetDeadLetters().Should().ContainSingle().Subject;
        deadLetter.Context.Offset.Should().Be(2);
        deadLetter.ExceptionType.Should().Be(typeof(TimeoutException).FullName);
        deadLetter.Reason.Should().Contain("timeout of 00:00:05");
        deadLetter.DeliveryCount.Should().Be(2);
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == 5, "the group committed past the dead-lettered event");
    }

    [Fact]
    public async Task HandlerTimeout_HandlerBlocksItsThread_AbandonedAfterTheGracePeriodAndTheGroupGoesOn()
    {
        using var release = new ManualResetEventSlim();
        await using var bus = await TestBus.StartAsync(b => b
            .AddStream<Reading>(o => o.MaxCount = 1000)
            .Configure(o =>
            {
                o.DefaultHandlerTimeout = TimeSpan.FromMilliseconds(200);
                o.HandlerTimeoutGracePeriod = TimeSpan.FromMilliseconds(300);
            }));
        var seen = new GroupLog();
        var blocked = new Recorder<int>();
        try
        {
            await using var group = await bus.Streams().SubscribeAsync<Reading>("blocking", (r, context, _) =>
            {
                if (r.Number == 0)
                {
                    blocked.Add(r.Number);
                    release.Wait(CancellationToken.None); // blocks its thread, before any await
                    return default;
                }

                return seen.Record(r, context);
            }, o => o.StartPosition = StreamPosition.First);
            await bus.PublishReadingsAsync(0, 50);

            await seen.WaitForCountAsync(49);
            release.IsSet.Should().BeFalse("the other events moved while the first handler's thread was still blocked");
            seen.Offsets.Should().Equal(Enumerable.Range(1, 49).Select(i => (long)i));
            var deadLetter = bus.Get<IDeadLetterQueue>().GetDeadLetters().Should().ContainSingle().Subject;
            deadLetter.Context.Offset.Should().Be(0);
            deadLetter.Reason.Should().Contain("abandoned");
        }
        finally
        {
            release.Set();
        }
    }

    [Fact]
    public async Task FullPolicyUnset_BusDefaultFailFast_AFullGroupRefusesThePublish()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>().Configure(o => o.DefaultFullPolicy = FullPolicy.FailFast));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var group = await bus.Streams().SubscribeAsync<Reading>("held", async (_, _, ct) => await gate.Task.WaitAsync(ct), o => o.Capacity = 1);
        try
        {
            await bus.PublishReadingsAsync(0, 1);

            var publish = async () => await bus.Bus.PublishAsync(new Reading(1));

            await publish.Should().ThrowAsync<BufferFullException>("the group takes the bus's FailFast default");
        }
        finally
        {
            gate.TrySetResult();
        }
    }

    [Fact]
    public async Task FullPolicyUnset_BusDefaultDrops_AFullGroupHoldsThePublisherInstead()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>().Configure(o => o.DefaultFullPolicy = FullPolicy.DropOldest));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var log = new GroupLog();
        await using var group = await bus.Streams().SubscribeAsync<Reading>("held", async (r, c, ct) =>
        {
            await gate.Task.WaitAsync(ct);
            await log.Record(r, c);
        }, o => o.Capacity = 1);
        await bus.PublishReadingsAsync(0, 1);

        var waiting = bus.Bus.PublishAsync(new Reading(1)).AsTask();

        waiting.IsCompleted.Should().BeFalse("a group never drops: with a dropping bus default it waits");
        gate.SetResult();
        await waiting.Within();
        await log.WaitForCountAsync(2);
        log.Offsets.Should().Equal(0, 1);
    }

    [Fact]
    public async Task DeadLetterCapacity_OfAGroup_BoundsItsDeadLettersAndReportsTheDiscarded()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 100));
        await using var group = await bus.Streams().SubscribeAsync<Reading>("failing", (_, _, _) => throw new InvalidOperationException("no"), o =>
        {
            o.StartPosition = StreamPosition.First;
            o.DeadLetterCapacity = 2;
        });

        await bus.PublishReadingsAsync(0, 3);
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == 3, "the group went past every failed event");

        bus.Get<IDeadLetterQueue>().GetDeadLetters().Select(d => d.Context.Offset).Should().Equal(1L, 2L);
        bus.Undelivered.Items.Should().ContainSingle(u => u.Reason == UndeliveredReason.DeadLetterDiscarded).Which.Context.Offset.Should().Be(0);
    }

    [Fact]
    public async Task HandlerTimeout_Invalid_IsRejectedNamingTheValue()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>());

        var failures = (await bus.Invoking(b => b.SubscribeAsync("bad", new GroupLog(), o => o.HandlerTimeout = TimeSpan.Zero).AsTask())
            .Should().ThrowAsync<OptionsValidationException>()).Which.Failures;

        failures.Should().ContainSingle().Which.Should().Be(
            $"ConsumerGroupOptions.HandlerTimeout of consumer group 'bad' on stream '{typeof(Reading).FullName}' must be between 00:00:00.001 and 1.00:00:00; it is 00:00:00.");
    }

    [Fact]
    public async Task FailurePolicySkip_HandlerFailsEveryAttempt_EventIsDeadLetteredWithItsOffsetAndTheGroupGoesOn()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        await bus.PublishReadingsAsync(0, 5);
        var seen = new GroupLog();
        await using var group = await bus.Streams().SubscribeAsync<Reading>("lenient", async (r, context, _) =>
        {
            if (r.Number == 2)
            {
                throw new FormatException("bad reading");
            }

            await seen.Record(r, context);
        }, o => o.StartPosition = StreamPosition.First);

        await seen.WaitForCountAsync(4);
        seen.Offsets.Should().Equal(0, 1, 3, 4);
        var deadLetter = bus.Services.GetRequiredService<IDeadLetterQueue>().GetDeadLetters("lenient").Should().ContainSingle().Subject;
        deadLetter.Context.Offset.Should().Be(2);
        deadLetter.ExceptionType.Should().Be(typeof(FormatException).FullName);
        bus.Undelivered.Items.Should().ContainSingle(u => u.Reason == UndeliveredReason.HandlerFailed && u.Subscription == "lenient");
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == 5, "the group committed past the dead-lettered event");
    }

    [Fact]
    public async Task CommitEvery_GroupStopped_CommitsWhatItHandledOnTheWayOut()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000));
        var seen = new GroupLog();
        var group = await bus.SubscribeAsync("batched", seen, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.CommitEvery = 100;
        });
        await bus.PublishReadingsAsync(0, 7);
        await seen.WaitForCountAsync(7);
        await group.DisposeAsync();

        group.GetSnapshot().CommittedOffset.Should().Be(7);
    }

    [Fact]
    public async Task RegisteredGroup_DiHandler_StartsWithTheBusAndReadsFromItsStartPosition()
    {
        await using var bus = TestBus.Build(b => b.AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("di", o => o.StartPosition = StreamPosition.First, ServiceLifetime.Singleton));
        await bus.Control.StartAsync();
        await bus.PublishReadingsAsync(0, 3);

        var recorder = bus.Services.GetRequiredService<StreamLogTests.OffsetRecorder>();
        await recorder.Log.WaitForCountAsync(3);
        recorder.Log.Offsets.Should().Equal(0, 1, 2);
        bus.Streams().GetSubscription<Reading>("di").Should().NotBeNull();
    }

    [Fact]
    public async Task RegisteredGroup_HandlerAlsoRegisteredAsAnEventHandler_IsOnlyTheGroupAndHandlesEachEventOnce()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Reading, StreamLogTests.OffsetRecorder>(ServiceLifetime.Singleton) // what an assembly scan registers
            .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("only-group", o => o.StartPosition = StreamPosition.First, ServiceLifetime.Singleton));
        await bus.PublishReadingsAsync(0, 5);

        var recorder = bus.Services.GetRequiredService<StreamLogTests.OffsetRecorder>();
        await Wait.UntilAsync(() => bus.Streams().GetStreamInfo<Reading>().Groups.Single().CommittedOffset == 5, "the group handled all five");
        recorder.Log.Offsets.Should().Equal(0, 1, 2, 3, 4);
        bus.Control.GetSnapshot().Should().ContainSingle("the handler is the group's, not also a subscription").Which.Subscription.Should().Be("only-group");
    }

    [Fact]
    public async Task Topology_RegisteredGroups_AreDescribedAndDrawnOnTheStream()
    {
        await using var bus = TestBus.Build(b => b
            .AddStream<Reading>(o => o.MaxCount = 10)
            .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("projection", o => o.StartPosition = StreamPosition.First)
            .AddStreamGroup<Reading, KeyedRecorder>("keyed", o => o.Workers = 4));

        var topic = bus.Control.DescribeTopology().Topics.Single();
        topic.IsStream.Should().BeTrue();
        topic.Groups!.Select(g => (g.Name, g.HandlerType, g.Mode, g.Workers, g.Capacity)).Should().Equal(
            ("keyed", typeof(KeyedRecorder), DeliveryMode.KeyOrdered, 4, 1024),
            ("projection", typeof(StreamLogTests.OffsetRecorder), DeliveryMode.Broadcast, 1, 1024));
        var mermaid = bus.Control.DescribeTopology().ToMermaid();
        mermaid.Should().Contain("t_EventBus_Tests_Streams_Reading[(\"Reading stream\")]")
            .And.Contain("t_EventBus_Tests_Streams_Reading -->|group keyed, key-ordered x4| h_EventBus_Tests_Streams_ConsumerGroupTests_KeyedRecorder")
            .And.Contain("t_EventBus_Tests_Streams_Reading -->|group projection| h_EventBus_Tests_Streams_StreamLogTests_OffsetRecorder");
    }

    public sealed class KeyedRecorder : IEventHandler<Reading>
    {
        public ValueTask HandleAsync(Reading message, MessageContext context, CancellationToken cancellationToken) => default;
    }

    [Fact]
    public async Task Subscribe_BeforeTheBusStarts_WorkersStartWithTheBus()
    {
        await using var bus = TestBus.Build(b => b.AddStream<Reading>(o => o.MaxCount = 100));
        var log = new GroupLog();
        await using var group = await bus.SubscribeAsync("early", log);
        await bus.Control.StartAsync();
        await bus.PublishReadingsAsync(0, 2);

        await log.WaitForCountAsync(2);
        log.Offsets.Should().Equal(0, 1);
    }

    [Fact]
    public async Task Stop_BusDrains_GroupsHandleEverythingPublishedAndCommit()
    {
        var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10_000));
        var log = new GroupLog();
        var group = await bus.SubscribeAsync("g", log, o => o.StartPosition = StreamPosition.First);
        await bus.PublishReadingsAsync(0, 2000);

        var report = await bus.Control.StopAsync().Within();

        report.Drained.Should().BeTrue();
        log.Offsets.Should().Equal(Enumerable.Range(0, 2000).Select(i => (long)i));
        group.GetSnapshot().CommittedOffset.Should().Be(2000);
        await group.Completion.Within();
        await bus.DisposeAsync();
    }

    [Fact]
    public async Task InvalidGroupOptions_AreRejectedListingEveryProblem()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>());
        var failures = (await bus.Invoking(b => b.SubscribeAsync("bad", new GroupLog(), o =>
        {
            o.Workers = 0;
            o.Capacity = 10;
            o.CommitEvery = 11;
            o.FullPolicy = FullPolicy.DropOldest;
            o.CommitInterval = TimeSpan.Zero;
        }).AsTask()).Should().ThrowAsync<OptionsValidationException>()).Which.Failures;

        var owner = $"consumer group 'bad' on stream '{typeof(Reading).FullName}'";
        failures.Should().BeEquivalentTo(
            $"ConsumerGroupOptions.Workers of {owner} must be between 1 and 1024; it is 0.",
            $"ConsumerGroupOptions.CommitEvery of {owner} must be between 1 and the group's Capacity (10), or publishers would wait for a commit that never comes; it is 11.",
            $"ConsumerGroupOptions.CommitInterval of {owner} must be between 00:00:00.001 and 1.00:00:00; it is 00:00:00.",
            $"ConsumerGroupOptions.FullPolicy of {owner} must be Wait or FailFast; it is DropOldest. A consumer group never drops events: bound the stream with StreamOptions.MaxCount or MaxAge instead.");
    }

    [Fact]
    public async Task RegisteredGroup_InvalidOptions_FailTheBuild()
    {
        await using var bus = TestBus.Build(b => b.AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("bad", o =>
        {
            o.AckMode = AckMode.Manual;
            o.Workers = 2;
        }));

        bus.Invoking(b => b.Bus).Should().Throw<OptionsValidationException>().WithMessage("*Manual with 2 workers*");
    }

    [Fact]
    public void AddStreamGroup_SameGroupTwice_Throws()
    {
        new ServiceCollection().Invoking(s => s.AddEventBus(b => b
                .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g")
                .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g")))
            .Should().Throw<ArgumentException>().WithMessage("Consumer group 'g' is already registered*");
    }

    /// <summary>Starts four groups (g0-g3) reading from the first event, each into its own log.</summary>
    private static async Task<(GroupLog[] Logs, IStreamSubscription[] Groups)> SubscribeFourGroupsFromFirstAsync(TestBus bus)
    {
        var logs = new[] { new GroupLog(), new GroupLog(), new GroupLog(), new GroupLog() };
        var groups = new IStreamSubscription[logs.Length];
        for (var i = 0; i < logs.Length; i++)
        {
            groups[i] = await bus.SubscribeAsync($"g{i}", logs[i], o => o.StartPosition = StreamPosition.First);
        }

        return (logs, groups);
    }

    /// <summary>Waits until every group committed <paramref name="offset"/> (everything before it handled), then stops it.</summary>
    private static async Task StopWhenCommittedAsync(IEnumerable<IStreamSubscription> groups, long offset)
    {
        foreach (var group in groups)
        {
            await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == offset, "every group committed the last event");
            await group.DisposeAsync();
        }
    }
}
