using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Queues;

public sealed class AcknowledgementTests
{
    [Fact]
    public async Task Nack_FromContext_RedeliversThenDeadLettersWithReason()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Job, NackingHandler>()
            .ConfigureSubscription<NackingHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 2 }));
        var attempts = bus.Get<Recorder<NackingHandler, int>>();

        await bus.Bus.PublishAsync(new Job(1, "nack"));
        await bus.Undelivered.WaitForCountAsync(1);

        attempts.Items.Should().Equal(1, 2, 3);
        bus.Undelivered.Items.Single().Reason.Should().Be(UndeliveredReason.Nacked);
        var deadLetter = bus.Get<IDeadLetterQueue>().GetDeadLetters().Single();
        deadLetter.Reason.Should().Be("not now");
        deadLetter.ExceptionType.Should().BeNull();
        deadLetter.ExceptionDetails.Should().BeNull();
        deadLetter.DeliveryCount.Should().Be(3);
    }

    [Fact]
    public async Task DeadLetter_FromContext_SkipsRemainingAttempts()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Job, NackingHandler>()
            .ConfigureSubscription<NackingHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 5, ImmediateRetries = 4 }));

        await bus.Bus.PublishAsync(new Job(2, "invalid"));
        await bus.Undelivered.WaitForCountAsync(1);

        bus.Get<Recorder<NackingHandler, int>>().Items.Should().Equal(1);
        bus.Get<IDeadLetterQueue>().GetDeadLetters().Single().Reason.Should().Be("the order has no lines");
    }

    [Fact]
    public async Task Nack_AfterTheDeliveryEnded_Throws()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Job, NackingHandler>());
        var kept = bus.Get<Recorder<NackingHandler, MessageContext>>();

        await bus.Bus.PublishAsync(new Job(3, "keep"));
        var context = (await kept.WaitForCountAsync(1))[0];
        await bus.WaitUntilIdleAsync();

        var settlement = context.Settlement!.Value;
        var act = () => settlement.Nack("too late");

        act.Should().Throw<InvalidOperationException>().WithMessage("*already ended*");
        settlement.CanCommit.Should().BeFalse("a subscription acknowledges by returning");
        settlement.Invoking(s => s.Commit()).Should().Throw<InvalidOperationException>().WithMessage("*stream consumer group*");
    }

    [Fact]
    public async Task Settlement_InlineSendHasNoneAndAQueuedSendHasOne()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<NackMe, NackMeHandler>());

        var inline = await bus.Commands.SendAsync(new NackMe());
        var queued = await bus.Get<ICommandSender<NackMe>>().SendQueuedAsync(new NackMe()).AsTask().Within();

        inline.Rejection!.Reason.Should().Be("no settlement", "an inline send has no redelivery to settle");
        queued.Rejection!.Reason.Should().Be("a settlement", "a queued command can be nacked or dead-lettered");
    }

    [Fact]
    public async Task AtMostOnce_HandlerFails_ReportedNeitherRetriedNorDeadLettered()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Job, NackingHandler>()
            .ConfigureSubscription<NackingHandler>(o =>
            {
                o.AckMode = AckMode.BeforeHandling;
                o.Redelivery = new RedeliveryOptions { MaxDeliveries = 5, ImmediateRetries = 4 };
            }));

        await bus.Bus.PublishAsync(new Job(4, "throw"));
        await bus.Undelivered.WaitForCountAsync(1);
        await bus.WaitUntilIdleAsync();

        bus.Get<Recorder<NackingHandler, int>>().Items.Should().Equal(1);
        bus.Undelivered.Items.Single().Reason.Should().Be(UndeliveredReason.HandlerFailed);
        bus.Get<IDeadLetterQueue>().Count.Should().Be(0);
        bus.Snapshot<NackingHandler>().Failed.Should().Be(1);
    }

    [Fact]
    public async Task HandlerTimeout_HangingHandlerHonoursToken_CancelledRetriedDeadLetteredWhileOtherWorkersKeepGoing()
    {
        var time = new FakeTimeProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Job, HangingHandler>()
                .ConfigureSubscription<HangingHandler>(o =>
                {
                    o.Mode = DeliveryMode.Queue;
                    o.Workers = 2;
                    o.HandlerTimeout = TimeSpan.FromSeconds(5);
                    o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 };
                }),
            s => s.AddSingleton<TimeProvider>(time));
        var started = bus.Get<Recorder<HangingHandler, (int N, int DeliveryCount)>>();

        await bus.Bus.PublishAsync(new Job(0, "hang"));
        await started.WaitForCountAsync(1);
        for (var n = 1; n <= 50; n++)
        {
            await bus.Bus.PublishAsync(new Job(n, "ok"));
        }

        // The other worker handles all 50 while the first one hangs.
        await bus.Get<Recorder<HangingHandler, int>>().WaitForCountAsync(50);

        time.Advance(TimeSpan.FromSeconds(5));
        await started.WaitForCountAsync(52); // the retry started (its timer exists once it has started)
        time.Advance(TimeSpan.FromSeconds(5));
        await bus.Undelivered.WaitForCountAsync(1);

        started.Items.Where(s => s.N == 0).Should().Equal((0, 1), (0, 2));
        var deadLetter = bus.Get<IDeadLetterQueue>().GetDeadLetters().Single();
        deadLetter.ExceptionType.Should().Be(typeof(TimeoutException).FullName);
        deadLetter.Reason.Should().Contain("timeout of 00:00:05");
        deadLetter.DeliveryCount.Should().Be(2);
    }

    [Fact]
    public async Task HandlerTimeout_HandlerIgnoresCancellation_AbandonedAfterGracePeriodAndWorkerMovesOn()
    {
        var time = new FakeTimeProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Job, HangingHandler>()
                .Configure(o => o.HandlerTimeoutGracePeriod = TimeSpan.FromSeconds(2))
                .ConfigureSubscription<HangingHandler>(o => o.HandlerTimeout = TimeSpan.FromSeconds(5)),
            s => s.AddSingleton<TimeProvider>(time));
        var started = bus.Get<Recorder<HangingHandler, (int N, int DeliveryCount)>>();

        await bus.Bus.PublishAsync(new Job(0, "ignore"));
        await bus.Bus.PublishAsync(new Job(1, "ok"));
        await started.WaitForCountAsync(1);

        await FakeClock.AdvanceUntilAsync(time, TimeSpan.FromSeconds(1), () => bus.Undelivered.Count > 0);
        await bus.Get<Recorder<HangingHandler, int>>().WaitForCountAsync(1);

        var deadLetter = bus.Get<IDeadLetterQueue>().GetDeadLetters().Single();
        deadLetter.ExceptionType.Should().Be(typeof(TimeoutException).FullName);
        deadLetter.Reason.Should().Contain("ignored cancellation").And.Contain("abandoned");
        bus.Get<Recorder<HangingHandler, int>>().Items.Should().Equal(1);
        bus.Get<Gate>().Open(); // let the abandoned handler end
    }

    [Fact]
    public async Task HandlerTimeout_HandlerBlocksItsThreadBeforeAwaiting_AbandonedAndTheWorkerMovesOn()
    {
        const int Others = 100;
        using var release = new ManualResetEventSlim();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Job, BlockingHandler>()
                .Configure(o =>
                {
                    o.DefaultHandlerTimeout = TimeSpan.FromMilliseconds(200);
                    o.HandlerTimeoutGracePeriod = TimeSpan.FromMilliseconds(500);
                }),
            s => s.AddSingleton(release));
        try
        {
            await bus.Bus.PublishAsync(new Job(0, "block"));
            await bus.Get<Recorder<BlockingHandler, string>>().WaitForCountAsync(1);
            for (var n = 1; n <= Others; n++)
            {
                await bus.Bus.PublishAsync(new Job(n, "ok"));
            }

            // One worker (broadcast): the others move only once the blocked attempt is abandoned, while its thread is still blocked.
            await bus.Get<Recorder<BlockingHandler, int>>().WaitForCountAsync(Others);
            release.IsSet.Should().BeFalse();

            bus.Get<Recorder<BlockingHandler, int>>().Items.Should().Equal(Enumerable.Range(1, Others));
            var deadLetter = bus.Get<IDeadLetterQueue>().GetDeadLetters().Should().ContainSingle().Subject;
            ((Job)deadLetter.Message).N.Should().Be(0);
            deadLetter.ExceptionType.Should().Be(typeof(TimeoutException).FullName);
            deadLetter.Reason.Should().Contain("abandoned");
        }
        finally
        {
            release.Set(); // let the abandoned handler's thread go
        }
    }

    [Fact]
    public async Task DeadLetterCapacity_Exceeded_DiscardsOldestAndReportsIt()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Job, NackingHandler>()
            .ConfigureSubscription<NackingHandler>(o => o.DeadLetterCapacity = 2));

        for (var n = 1; n <= 3; n++)
        {
            await bus.Bus.PublishAsync(new Job(n, "throw"));
        }

        await bus.Undelivered.WaitForCountAsync(4);

        bus.Get<IDeadLetterQueue>().GetDeadLetters().Select(d => ((Job)d.Message).N).Should().Equal(2, 3);
        bus.Undelivered.Items.Where(u => u.Reason == UndeliveredReason.DeadLetterDiscarded).Select(u => ((Job)u.Message).N).Should().Equal(1);
    }

    [Fact]
    public async Task Purge_WithPredicate_RemovesOnlyMatchingDeadLetters()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Job, NackingHandler>());
        for (var n = 1; n <= 4; n++)
        {
            await bus.Bus.PublishAsync(new Job(n, "throw"));
        }

        await bus.Undelivered.WaitForCountAsync(4);
        var queue = bus.Get<IDeadLetterQueue>();

        queue.Purge(d => ((Job)d.Message).N % 2 == 0).Should().Be(2);

        queue.GetDeadLetters().Select(d => ((Job)d.Message).N).Should().Equal(1, 3);
        queue.GetDeadLetters(typeof(NackingHandler).FullName).Should().HaveCount(2);
        queue.GetDeadLetters("no such subscription").Should().BeEmpty();
        queue.Purge().Should().Be(2);
        queue.Count.Should().Be(0);
    }

    [Fact]
    public async Task Stop_WithScheduledRedeliveriesAndBufferedMessages_HandledPlusReportedEqualsPublished()
    {
        var time = new FakeTimeProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Job, NackingHandler>()
                .ConfigureSubscription<NackingHandler>(o =>
                {
                    o.Mode = DeliveryMode.Queue;
                    o.Workers = 2;
                    o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, InitialDelay = TimeSpan.FromMinutes(1), MaxDelay = TimeSpan.FromMinutes(5) };
                }),
            s => s.AddSingleton<TimeProvider>(time));

        const int published = 200;
        for (var n = 0; n < published; n++)
        {
            await bus.Bus.PublishAsync(new Job(n, n % 10 == 0 ? "throw" : "ok"));
        }

        await Wait.UntilAsync(() => bus.Snapshot<NackingHandler>().ScheduledRedeliveries == published / 10, "the failures are scheduled");
        var report = await bus.Control.StopAsync();

        var succeeded = bus.Snapshot<NackingHandler>().Succeeded;
        succeeded.Should().Be(published - (published / 10));
        report.Unfinished.Should().HaveCount(published / 10).And.OnlyContain(u => u.Reason == UndeliveredReason.RedeliveryAbandonedByStop);
        (succeeded + report.Unfinished.Count).Should().Be(published);
        report.Drained.Should().BeFalse();
    }

    public sealed record Job(int N, string Behaviour);

    public sealed record NackMe : ICommand;

    public sealed class NackMeHandler : ICommandHandler<NackMe>
    {
        public ValueTask<CommandResult> HandleAsync(NackMe command, MessageContext context, CancellationToken cancellationToken)
        {
            return ValueTask.FromResult<CommandResult>(CommandResult.Reject(context.Settlement is null ? "no settlement" : "a settlement"));
        }
    }

    public sealed class NackingHandler(Recorder<NackingHandler, int> attempts, Recorder<NackingHandler, MessageContext> contexts) : IEventHandler<Job>
    {
        public ValueTask HandleAsync(Job @event, MessageContext context, CancellationToken cancellationToken)
        {
            attempts.Add(context.DeliveryCount);
            switch (@event.Behaviour)
            {
                case "nack":
                    context.Settlement!.Value.Nack("not now");
                    break;
                case "invalid":
                    context.Settlement!.Value.DeadLetter("the order has no lines");
                    break;
                case "throw":
                    throw new InvalidOperationException($"job {@event.N} failed");
                case "keep":
                    contexts.Add(context);
                    break;
            }

            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Blocks its thread (no await) on the "block" job until the test releases it.</summary>
    public sealed class BlockingHandler(ManualResetEventSlim release, Recorder<BlockingHandler, string> started, Recorder<BlockingHandler, int> handled) : IEventHandler<Job>
    {
        public ValueTask HandleAsync(Job @event, MessageContext context, CancellationToken cancellationToken)
        {
            if (@event.Behaviour == "block")
            {
                started.Add("blocking");
                release.Wait(CancellationToken.None);
                return default;
            }

            handled.Add(@event.N);
            return default;
        }
    }

    public sealed class HangingHandler(Recorder<HangingHandler, (int N, int DeliveryCount)> started, Recorder<HangingHandler, int> handled, Gate gate) : IEventHandler<Job>
    {
        public async ValueTask HandleAsync(Job @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add((@event.N, context.DeliveryCount));
            switch (@event.Behaviour)
            {
                case "hang":
                    await gate.WaitAsync(cancellationToken);
                    break;
                case "ignore":
                    await gate.WaitAsync(CancellationToken.None);
                    return;
            }

            handled.Add(@event.N);
        }
    }
}
