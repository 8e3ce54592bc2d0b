using System.Diagnostics;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Testing.Tests;

/// <summary>
/// <see cref="EventBusTestHarness"/>: <see cref="EventBusTestHarness.WaitForIdleAsync"/> counts pending messages (cascades and
/// delayed redeliveries included) instead of waiting for inactivity, times out with a message naming what is pending, and the
/// typed captures record what was published, handled, failed, dead-lettered and undelivered. No test here sleeps.
/// </summary>
public sealed class EventBusTestHarnessTests
{
    [Fact]
    public async Task WaitForIdleAsync_CascadeOfDepthThree_ReturnsOnlyAfterTheLastHandlerOfTheChain()
    {
        await using var host = await HarnessHost.StartAsync(b => b
            .AddEventHandler<Step1, Step1Handler>()
            .AddEventHandler<Step2, Step2Handler>()
            .AddEventHandler<Step3, Step3Handler>()
            .ConfigureSubscription<Step2Handler>(o => { o.Mode = DeliveryMode.Queue; o.Workers = 2; }));
        var harness = host.Harness;

        for (var i = 0; i < 5; i++)
        {
            await host.Bus.PublishAsync(new Step1(i));
        }

        // The end of the chain is held at a gate: the harness must wait through both cascades to it.
        await host.Get<Recorder<Step3Handler, string>>().WaitForCountAsync(1);
        var idle = harness.WaitForIdleAsync();
        idle.IsCompleted.Should().BeFalse("step 3 of at least one flow is still running");
        harness.Pending.Should().BeGreaterThan(0);
        host.Get<Gate<Step3Handler>>().Open();
        await idle;

        // Everything is final the moment the wait returns: no further waiting below.
        host.Get<Recorder<Step3Handler, int>>().Items.Should().BeEquivalentTo([0, 1, 2, 3, 4]);
        harness.Pending.Should().Be(0);
        harness.Published<Step1>().Select(c => c.Message.N).Should().Equal(0, 1, 2, 3, 4);
        harness.Published<Step2>().Select(c => c.Message.N).Should().BeEquivalentTo([0, 1, 2, 3, 4]);
        harness.Published<Step3>().Select(c => c.Message.N).Should().BeEquivalentTo([0, 1, 2, 3, 4]);
        harness.Handled<Step3>().Should().HaveCount(5).And.OnlyContain(c => c.Context.Subscription == typeof(Step3Handler).FullName);
        harness.Handled<Step3>().Select(c => c.Context.CorrelationId).Should().OnlyHaveUniqueItems("each flow keeps its own correlation id");
        host.Control.GetSnapshot().Should().HaveCount(3).And.OnlyContain(s => s.Depth == 0 && s.InFlight == 0 && s.Succeeded == 5 && s.Delivered == 5);
    }

    [Fact]
    public async Task WaitForIdleAsync_StreamGroups_WaitsUntilEveryRunningGroupReadEveryEvent()
    {
        await using var host = await HarnessHost.StartAsync(b => b
            .AddStreamGroup<Step3, Step3Handler>("gated", o => o.StartPosition = StreamPosition.First));
        var harness = host.Harness;

        for (var i = 0; i < 3; i++)
        {
            await host.Bus.PublishAsync(new Step3(i));
        }

        await host.Get<Recorder<Step3Handler, string>>().WaitForCountAsync(1);
        var idle = harness.WaitForIdleAsync();
        idle.IsCompleted.Should().BeFalse("the group holds offset 0 at a gate with two more events to read");
        harness.Pending.Should().Be(3);
        host.Get<Gate<Step3Handler>>().Open();
        await idle;

        host.Get<Recorder<Step3Handler, int>>().Items.Should().Equal(0, 1, 2);
        harness.Handled<Step3>().Select(c => (c.Context.Subscription, c.Context.Offset)).Should().Equal(("gated", 0L), ("gated", 1L), ("gated", 2L));
        host.Get<IEventStreams>().GetStreamInfo<Step3>().Groups.Single().Lag.Should().Be(0);
    }

    [Fact]
    public async Task WaitForIdleAsync_GroupKeepingUpWithSinglesAndBatches_CountsEachEventOnce()
    {
        // The group reads as the publisher appends (an event counts as pending before a group can read it): after singles and
        // batches, idle means every event read, and nothing is left counted.
        await using var host = await HarnessHost.StartAsync(b => b
            .AddStreamGroup<Step3, Step3Handler>("open", o => o.StartPosition = StreamPosition.First));
        var harness = host.Harness;
        host.Get<Gate<Step3Handler>>().Open();

        var published = 0;
        for (var round = 0; round < 200; round++)
        {
            await host.Bus.PublishAsync(new Step3(published++));
            await host.Bus.PublishBatchAsync(Enumerable.Range(published, 4).Select(n => new Step3(n)).ToList());
            published += 4;
        }

        await harness.WaitForIdleAsync();

        harness.Pending.Should().Be(0);
        host.Get<Recorder<Step3Handler, int>>().Items.Should().Equal(Enumerable.Range(0, published));
        host.Get<IEventStreams>().GetStreamInfo<Step3>().Groups.Single().Lag.Should().Be(0);
    }

    [Fact]
    public async Task WaitForIdleAsync_IdleBus_CompletesAtOnce()
    {
        await using var host = HarnessHost.Build(b => b.AddEventHandler<Step3, Step3Handler>());
        var harness = host.Harness;

        harness.WaitForIdleAsync().IsCompletedSuccessfully.Should().BeTrue("nothing was published to the bus that is not started yet");
        await host.Control.StartAsync();
        harness.WaitForIdleAsync().IsCompletedSuccessfully.Should().BeTrue("a started bus with nothing published is idle");

        host.Get<Gate<Step3Handler>>().Open();
        await host.Bus.PublishAsync(new Step3(1));
        await harness.WaitForIdleAsync();
        harness.WaitForIdleAsync().IsCompletedSuccessfully.Should().BeTrue("the only message was handled");
        harness.Pending.Should().Be(0);
    }

    [Fact]
    public async Task WaitForIdleAsync_StuckHandler_TimesOutPromptlyNamingThePendingMessageTypeAndSubscription()
    {
        await using var host = await HarnessHost.StartAsync(b => b.AddEventHandler<Step3, Step3Handler>());
        var harness = host.Harness;
        await host.Bus.PublishAsync(new Step3(1));
        await host.Bus.PublishAsync(new Step3(2));
        await host.Get<Recorder<Step3Handler, string>>().WaitForCountAsync(1); // 1 in flight at the gate that stays shut, 1 buffered

        var watch = Stopwatch.StartNew();
        var wait = () => harness.WaitForIdleAsync(TimeSpan.FromMilliseconds(500));

        var thrown = await wait.Should().ThrowAsync<TimeoutException>();
        watch.Elapsed.Should().BeLessThan(Wait.Promptly);
        thrown.Which.Message.Should().Be(
            $"The event bus was not idle after 00:00:00.5000000: 2 message(s) still pending. {typeof(Step3).FullName} -> {typeof(Step3Handler).FullName}: 1 in flight, 1 buffered, 0 waiting for redelivery (Running).");

        host.Get<Gate<Step3Handler>>().Open();
        await harness.WaitForIdleAsync();
        harness.Handled<Step3>().Select(c => c.Message.N).Should().Equal(1, 2);
    }

    [Fact]
    public async Task WaitForIdleAsync_MessageBufferedBeforeStart_TimeoutSaysNotStartedAndStartingMakesTheBusIdle()
    {
        await using var host = HarnessHost.Build(b => b.AddEventHandler<Step3, Step3Handler>());
        var harness = host.Harness;
        host.Get<Gate<Step3Handler>>().Open();
        await host.Bus.PublishAsync(new Step3(1));

        var wait = () => harness.WaitForIdleAsync(TimeSpan.FromMilliseconds(200));

        (await wait.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Be(
            $"The event bus was not idle after 00:00:00.2000000: 1 message(s) still pending. {typeof(Step3).FullName} -> {typeof(Step3Handler).FullName}: 0 in flight, 1 buffered, 0 waiting for redelivery (NotStarted).");
        await host.Control.StartAsync();
        await harness.WaitForIdleAsync();
        harness.Handled<Step3>().Should().ContainSingle().Which.Message.Should().Be(new Step3(1));
    }

    [Fact]
    public async Task WaitForIdleAsync_DelayedRedelivery_CountsAsPendingUntilTheRetryIsHandled()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
        await using var host = await HarnessHost.StartAsync(
            b => b
                .AddEventHandler<Step3, FailFirstAttemptHandler>()
                .ConfigureSubscription<FailFirstAttemptHandler>(o =>
                {
                    o.Mode = DeliveryMode.Queue;
                    o.Workers = 1;
                    o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, InitialDelay = TimeSpan.FromSeconds(10), JitterFraction = 0 };
                }),
            s => s.AddSingleton<TimeProvider>(time));
        var harness = host.Harness;

        await host.Bus.PublishAsync(new Step3(1));
        await host.Get<Recorder<FailFirstAttemptHandler, int>>().WaitForCountAsync(1);
        await Wait.UntilAsync(() => host.Control.GetSnapshot().Single().ScheduledRedeliveries == 1, "the retry is scheduled");

        harness.Pending.Should().Be(1, "a message waiting for its redelivery is still the bus's");
        var wait = () => harness.WaitForIdleAsync(TimeSpan.FromMilliseconds(200));
        (await wait.Should().ThrowAsync<TimeoutException>()).Which.Message.Should().Be(
            $"The event bus was not idle after 00:00:00.2000000: 1 message(s) still pending. {typeof(Step3).FullName} -> {typeof(FailFirstAttemptHandler).FullName}: 0 in flight, 0 buffered, 1 waiting for redelivery (Running).");
        var idle = harness.WaitForIdleAsync();
        idle.IsCompleted.Should().BeFalse();

        time.Advance(TimeSpan.FromSeconds(10)); // the retry's timer exists (the snapshot counted it): this fires it
        await idle;

        host.Get<Recorder<FailFirstAttemptHandler, int>>().Items.Should().Equal(1, 2);
        harness.Failed<Step3>().Should().ContainSingle().Which.Context.DeliveryCount.Should().Be(1);
        harness.Handled<Step3>().Should().ContainSingle().Which.Context.DeliveryCount.Should().Be(2);
        harness.DeadLettered<Step3>().Should().BeEmpty();
        harness.Undelivered().Should().BeEmpty();
    }

    [Fact]
    public async Task WaitForIdleAsync_KeyOrderedSubscription_CountsEveryLanesMessagesAsPendingUntilHandled()
    {
        await using var host = await HarnessHost.StartAsync(b => b
            .AddEventHandler<Step3, Step3Handler>()
            .ConfigureSubscription<Step3Handler>(o =>
            {
                o.Mode = DeliveryMode.KeyOrdered;
                o.Workers = 2;
            }));
        var harness = host.Harness;

        for (var i = 0; i < 6; i++)
        {
            await host.Bus.PublishAsync(new Step3(i), new PublishOptions { PartitionKey = $"key-{i % 3}" });
        }

        await host.Get<Recorder<Step3Handler, string>>().WaitForCountAsync(1);
        var idle = harness.WaitForIdleAsync();
        idle.IsCompleted.Should().BeFalse("the workers are held at the gate");
        harness.Pending.Should().Be(6, "every message is in a handler or waits in its key's lane");
        host.Get<Gate<Step3Handler>>().Open();
        await idle;

        harness.Pending.Should().Be(0);
        host.Get<Recorder<Step3Handler, int>>().Items.Should().BeEquivalentTo([0, 1, 2, 3, 4, 5]);
        foreach (var key in harness.Handled<Step3>().GroupBy(c => c.Context.PartitionKey))
        {
            key.Select(c => c.Message.N).Should().BeInAscendingOrder($"{key.Key}'s messages are handled in publish order");
        }
    }

    [Fact]
    public async Task Captures_MixedOutcomes_PublishedHandledFailedDeadLetteredAndUndeliveredAreTyped()
    {
        await using var host = await HarnessHost.StartAsync(b => b
            .AddEventHandler<IPaymentEvent, Ledger>()
            .AddEventHandler<Paid, Mailer>()
            .ConfigureSubscription<Mailer>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 }));
        var harness = host.Harness;
        var flow = new PublishOptions { CorrelationId = "pay-flow" };

        await host.Bus.PublishAsync(new Paid(1), flow);
        await host.Bus.PublishAsync(new Paid(2), flow);
        await host.Bus.PublishAsync(new Refunded(3), flow);
        await harness.WaitForIdleAsync();
        await host.Control.StopAsync(); // see Undelivered_AfterWaitForIdleAsync_...: the dead letter is stored after the message leaves the count

        harness.Published<Paid>().Select(c => c.Message).Should().Equal(new Paid(1), new Paid(2));
        harness.Published<IPaymentEvent>().Select(c => c.Message).Should().Equal(new Paid(1), new Paid(2), new Refunded(3));
        harness.Published<Refunded>().Should().ContainSingle().Which.Context.Should().Match<MessageContext>(c => c.MessageType == typeof(Refunded).FullName && c.CorrelationId == "pay-flow");
        harness.Handled<Paid>().Select(c => (c.Message.N, c.Context.Subscription)).Should().BeEquivalentTo(
            [(1, typeof(Ledger).FullName), (2, typeof(Ledger).FullName), (1, typeof(Mailer).FullName)]);
        harness.Handled<Refunded>().Select(c => (c.Message.N, c.Context.Subscription)).Should().Equal((3, typeof(Ledger).FullName));
        harness.Failed<Paid>().Select(c => (c.Message.N, c.Context.Subscription, c.Context.DeliveryCount, c.Exception?.Message)).Should().Equal(
            (2, typeof(Mailer).FullName, 1, "no mail for 2"),
            (2, typeof(Mailer).FullName, 2, "no mail for 2"));
        harness.Failed<Refunded>().Should().BeEmpty();
        var deadLetter = harness.DeadLettered<Paid>().Should().ContainSingle().Subject;
        deadLetter.Message.Should().Be(new Paid(2));
        deadLetter.Subscription.Should().Be(typeof(Mailer).FullName);
        deadLetter.DeliveryCount.Should().Be(2);
        deadLetter.Reason.Should().Be("no mail for 2");
        harness.DeadLettered<Refunded>().Should().BeEmpty();
        var undelivered = harness.Undelivered().Should().ContainSingle().Subject;
        undelivered.Message.Should().Be(new Paid(2));
        undelivered.Reason.Should().Be(UndeliveredReason.HandlerFailed);
        undelivered.Subscription.Should().Be(typeof(Mailer).FullName);
        undelivered.Context.DeliveryCount.Should().Be(2);
    }

    /// <summary>
    /// The harness's promise: once <see cref="EventBusTestHarness.WaitForIdleAsync"/> returns, every message has reached its final
    /// outcome, so <see cref="EventBusTestHarness.Undelivered"/> and <see cref="EventBusTestHarness.DeadLettered{TMessage}"/> show
    /// it. An <see cref="EventBusOptions.OnUndelivered"/> callback that blocks holds the dead-lettering in the middle, which makes
    /// the order of "leave the pending count" and "report and store the dead letter" observable.
    /// </summary>
    [Fact]
    public async Task Undelivered_AfterWaitForIdleAsync_TheDeadLetteredMessageIsReportedAndStored()
    {
        using var reporting = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        await using var host = await HarnessHost.StartAsync(b => b
            .AddEventHandler<Paid, Mailer>()
            .Configure(o => o.OnUndelivered = _ =>
            {
                reporting.Set();
                release.Wait(Wait.Timeout);
            }));
        var harness = host.Harness;

        await host.Bus.PublishAsync(new Paid(2));
        await Task.Run(() => reporting.Wait(Wait.Timeout)).Within();
        var idle = harness.WaitForIdleAsync();
        var idleWhileStillReporting = idle.IsCompleted;
        release.Set();
        await idle;

        idleWhileStillReporting.Should().BeFalse("the message's outcome (report, dead letter) was not finished, so the bus was not idle");
        harness.Undelivered().Should().ContainSingle().Which.Reason.Should().Be(UndeliveredReason.HandlerFailed);
        harness.DeadLettered<Paid>().Should().ContainSingle().Which.Message.Should().Be(new Paid(2));
    }

    [Fact]
    public async Task Undelivered_DroppedNewestAndRejectedEnqueuedCommand_RecordedWithTheirReasons()
    {
        await using var host = HarnessHost.Build(b => b
            .AddEventHandler<Step3, Step3Handler>()
            .AddCommandHandler<Refund, RefundHandler>()
            .ConfigureSubscription<Step3Handler>(o => { o.Capacity = 1; o.FullPolicy = FullPolicy.DropNewest; }));
        var harness = host.Harness;
        host.Get<Gate<Step3Handler>>().Open();

        await host.Bus.PublishAsync(new Step3(1));
        await host.Bus.PublishAsync(new Step3(2)); // the buffer of one is full: dropped
        await host.Commands.EnqueueAsync(new Refund(-5));
        harness.Pending.Should().Be(2, "the dropped message never entered");
        await host.Control.StartAsync();
        await harness.WaitForIdleAsync();
        await host.Control.StopAsync(); // the rejection is reported after it leaves the count (see the test above)

        harness.Published<Step3>().Select(c => c.Message.N).Should().Equal(1, 2);
        harness.Handled<Step3>().Select(c => c.Message.N).Should().Equal(1);
        harness.Undelivered().Select(u => (u.Message, u.Reason, (string?)u.Subscription)).Should().Equal(
            (new Step3(2), UndeliveredReason.DroppedNewest, typeof(Step3Handler).FullName),
            (new Refund(-5), UndeliveredReason.CommandRejected, typeof(RefundHandler).FullName));
        harness.Failed<Refund>().Should().ContainSingle().Which.Exception.Should().BeOfType<CommandRejectedException>()
            .Which.Rejection.Code.Should().Be("negative");
        harness.Handled<Refund>().Should().BeEmpty();
        harness.DeadLettered<Refund>().Should().BeEmpty("a rejection is a final outcome, not a failure to retry");
    }

    [Fact]
    public async Task Captures_InlineSend_NotRecordedButWhatItsHandlerPublishesIs()
    {
        await using var host = await HarnessHost.StartAsync(b => b
            .AddCommandHandler<Refund, RefundHandler>()
            .AddEventHandler<IPaymentEvent, Ledger>());
        var harness = host.Harness;

        var result = await host.Commands.SendAsync(new Refund(7));
        await harness.WaitForIdleAsync();

        result.IsAccepted.Should().BeTrue();
        harness.Published<Refund>().Should().BeEmpty("an inline send returns its outcome to the caller");
        harness.Handled<Refund>().Should().BeEmpty();
        harness.Published<Refunded>().Select(c => c.Message).Should().Equal(new Refunded(7));
        harness.Handled<Refunded>().Should().ContainSingle().Which.Context.Subscription.Should().Be(typeof(Ledger).FullName);
    }

    [Fact]
    public async Task Published_BeforeTheHarnessWasResolved_IsCaptured()
    {
        await using var host = HarnessHost.Build(b => b.AddEventHandler<IPaymentEvent, Ledger>());
        await host.Control.StartAsync(); // as a hosted service would: the bus runs before the test asks for the harness

        await host.Bus.PublishAsync(new Paid(1));
        var harness = host.Harness;
        await harness.WaitForIdleAsync();

        harness.Published<Paid>().Select(c => c.Message).Should().Equal([new Paid(1)], "the harness records what the bus it observes published");
        harness.Handled<Paid>().Should().ContainSingle();
    }

    [Fact]
    public async Task WaitForIdleAsync_CancelledWhileWaiting_ThrowsOperationCanceledException()
    {
        await using var host = await HarnessHost.StartAsync(b => b.AddEventHandler<Step3, Step3Handler>());
        await host.Bus.PublishAsync(new Step3(1));
        await host.Get<Recorder<Step3Handler, string>>().WaitForCountAsync(1);
        using var cancellation = new CancellationTokenSource();

        var idle = host.Harness.WaitForIdleAsync(cancellationToken: cancellation.Token);
        await cancellation.CancelAsync();

        await idle.Awaiting(t => t.Within()).Should().ThrowAsync<OperationCanceledException>();
        host.Get<Gate<Step3Handler>>().Open();
        await host.Harness.WaitForIdleAsync();
    }

    [Fact]
    public async Task Control_OfTheHarness_IsTheObservedBus()
    {
        await using var host = HarnessHost.Build(b => b.AddEventHandler<Step3, Step3Handler>());

        host.Harness.Control.Should().BeSameAs(host.Control);
        host.Harness.Pending.Should().Be(0);
    }

    [Fact]
    public void AddTestHarness_NullBuilder_ThrowsArgumentNullException()
    {
        var add = () => EventBusTestingExtensions.AddTestHarness(null!);

        add.Should().Throw<ArgumentNullException>().WithParameterName("builder");
    }

    public sealed record Step1(int N);

    public sealed record Step2(int N);

    public sealed record Step3(int N);

    public interface IPaymentEvent;

    public sealed record Paid(int N) : IPaymentEvent;

    public sealed record Refunded(int N) : IPaymentEvent;

    public sealed record Refund(int Amount) : ICommand;

    public sealed class Step1Handler(IEventBus events) : IEventHandler<Step1>
    {
        public async ValueTask HandleAsync(Step1 @event, MessageContext context, CancellationToken cancellationToken)
        {
            await Task.Yield();
            await events.PublishAsync(new Step2(@event.N), PublishOptions.CausedBy(context), cancellationToken);
        }
    }

    public sealed class Step2Handler(IEventBus events) : IEventHandler<Step2>
    {
        public async ValueTask HandleAsync(Step2 @event, MessageContext context, CancellationToken cancellationToken)
        {
            await Task.Yield();
            await events.PublishAsync(new Step3(@event.N), PublishOptions.CausedBy(context), cancellationToken);
        }
    }

    public sealed class Step3Handler(Gate<Step3Handler> gate, Recorder<Step3Handler, string> started, Recorder<Step3Handler, int> handled) : IEventHandler<Step3>
    {
        public async ValueTask HandleAsync(Step3 @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add($"started {@event.N}");
            await gate.WaitAsync(cancellationToken);
            handled.Add(@event.N);
        }
    }

    public sealed class FailFirstAttemptHandler(Recorder<FailFirstAttemptHandler, int> attempts) : IEventHandler<Step3>
    {
        public ValueTask HandleAsync(Step3 @event, MessageContext context, CancellationToken cancellationToken)
        {
            attempts.Add(context.DeliveryCount);
            return context.DeliveryCount == 1 ? throw new InvalidOperationException("the first attempt fails") : default;
        }
    }

    public sealed class Ledger : IEventHandler<IPaymentEvent>
    {
        public ValueTask HandleAsync(IPaymentEvent @event, MessageContext context, CancellationToken cancellationToken) => default;
    }

    public sealed class Mailer : IEventHandler<Paid>
    {
        public ValueTask HandleAsync(Paid @event, MessageContext context, CancellationToken cancellationToken) =>
            @event.N == 2 ? throw new InvalidOperationException($"no mail for {@event.N}") : default;
    }

    public sealed class RefundHandler(IEventBus events) : ICommandHandler<Refund>
    {
        public async ValueTask<CommandResult> HandleAsync(Refund command, MessageContext context, CancellationToken cancellationToken)
        {
            if (command.Amount < 0)
            {
                return CommandResult.Reject("A refund cannot be negative.", "negative");
            }

            await events.PublishAsync(new Refunded(command.Amount), PublishOptions.CausedBy(context), cancellationToken);
            return CommandResult.Accepted;
        }
    }
}
