using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Commands;

/// <summary>
/// <see cref="ICommandSender{TCommand, TResult}.SendQueuedAsync(TCommand, PublishOptions?, CancellationToken)"/>: a command handled by
/// the queue's workers while its sender awaits the outcome — results, rejections, retries, failures, cancellation and the stop.
/// </summary>
public sealed class QueuedSendTests
{
    [Fact]
    public async Task SendQueuedAsync_CommandWithResult_AWorkerHandlesItAndTheSenderGetsTheResult()
    {
        await using var bus = await StartAsync();
        var options = new PublishOptions { CorrelationId = "order-7", Headers = new Dictionary<string, string> { ["tenant"] = "acme" } };

        var result = await bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(3, 4), options).AsTask().Within();

        result.Value.Should().Be(300_004);
        var context = bus.Get<Recorder<MessageContext>>().Items.Should().ContainSingle().Subject;
        context.Subscription.Should().Be(typeof(ComputeHandler).FullName, "a queue worker handled it, not the caller's flow");
        (context.CorrelationId, context.Headers["tenant"]).Should().Be(("order-7", "acme"), "the envelope values travel with the reply");
        bus.Control.GetSnapshot().Single(s => s.Topic == typeof(Compute).FullName).Should().Match<SubscriptionSnapshot>(s => s.Mode == DeliveryMode.Queue && s.Succeeded == 1);
    }

    [Fact]
    public async Task SendQueuedAsync_HandlerRejects_TheSenderGetsTheRejectionAndNothingIsReported()
    {
        await using var bus = await StartAsync();

        var rejected = await bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(-1, 0)).AsTask().Within();
        var voidRejected = await bus.Get<ICommandSender<Record>>().SendQueuedAsync(new Record("")).AsTask().Within();
        var voidAccepted = await bus.Get<ICommandSender<Record>>().SendQueuedAsync(new Record("kept")).AsTask().Within();

        rejected.IsAccepted.Should().BeFalse();
        rejected.Rejection.Should().Be(new CommandRejection("The sender must not be negative; it is -1.", "negative"));
        voidRejected.Rejection!.Reason.Should().Be("A text is required.");
        voidAccepted.IsAccepted.Should().BeTrue();
        bus.Get<Recorder<string>>().Items.Should().Equal("kept");
        bus.Undelivered.Items.Should().BeEmpty("the sender received the rejection: it is an outcome, not a failure to report");
    }

    [Fact]
    public async Task SendQueuedAsync_HandlerFailsThenSucceeds_RetriedPerTheQueueAndTheSenderGetsTheResult()
    {
        await using var bus = await StartAsync(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 2 });

        var result = await bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(1, 2, FailFirst: 2)).AsTask().Within();

        result.Value.Should().Be(100_002);
        bus.Get<Recorder<MessageContext>>().Items.Select(c => c.DeliveryCount).Should().Equal(1, 2, 3);
        bus.Undelivered.Items.Should().BeEmpty();
    }

    [Fact]
    public async Task SendQueuedAsync_EveryAttemptFails_TheSenderGetsTheHandlersExceptionAndTheCommandIsDeadLettered()
    {
        await using var bus = await StartAsync(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 });

        var send = async () => await bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(1, 2, FailFirst: 5)).AsTask().Within();

        (await send.Should().ThrowExactlyAsync<InvalidOperationException>()).WithMessage("attempt 2 failed");
        var report = bus.Undelivered.Items.Should().ContainSingle().Subject;
        report.Reason.Should().Be(UndeliveredReason.HandlerFailed);
        report.Message.Should().Be(new Compute(1, 2, FailFirst: 5));
        bus.Get<Recorder<MessageContext>>().Count.Should().Be(2);
    }

    [Fact]
    public async Task SendQueuedAsync_HandlerDeadLettersIt_TheSenderGetsAnErrorThatSaysWhy()
    {
        await using var bus = await StartAsync();

        var send = async () => await bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(1, 2, DeadLetter: true)).AsTask().Within();

        var thrown = await send.Should().ThrowExactlyAsync<InvalidOperationException>();
        thrown.WithMessage($"The command '{typeof(Compute).FullName}' was not handled by '{typeof(ComputeHandler).FullName}': its handler nacked or dead-lettered it*");
        bus.Undelivered.Items.Should().ContainSingle().Which.Reason.Should().Be(UndeliveredReason.Nacked);
    }

    [Fact]
    public async Task SendQueuedAsync_Cancelled_TheWaitEndsButTheQueuedCommandIsStillHandled()
    {
        await using var bus = await StartAsync();
        using var cancellation = new CancellationTokenSource();

        var waiting = bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(1, 1, Gated: true), cancellationToken: cancellation.Token).AsTask();
        await bus.Get<Recorder<MessageContext>>().WaitForCountAsync(1);
        cancellation.Cancel();

        var wait = async () => await waiting.Within();
        (await wait.Should().ThrowAsync<OperationCanceledException>()).Which.CancellationToken.Should().Be(cancellation.Token);
        bus.Get<Gate>().Open();
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Control.GetSnapshot().Single(s => s.Topic == typeof(Compute).FullName).Succeeded.Should().Be(1, "cancelling the wait does not withdraw the command");
    }

    [Fact]
    public async Task SendQueuedAsync_BusStopsBeforeAWorkerTakesIt_TheSenderLearnsItWasNotHandled()
    {
        await using var bus = await StartAsync(o => o.Workers = 1, stopTimeout: TimeSpan.FromMilliseconds(200));
        var first = bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(1, 1, Gated: true)).AsTask();
        await bus.Get<Recorder<MessageContext>>().WaitForCountAsync(1);
        var second = bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(2, 2)).AsTask();

        var report = await bus.Control.StopAsync().Within();

        report.Drained.Should().BeFalse();
        var cutShort = async () => await first.Within();
        var neverTaken = async () => await second.Within();
        (await cutShort.Should().ThrowExactlyAsync<InvalidOperationException>()).WithMessage("*the bus stopped while its handler ran*");
        (await neverTaken.Should().ThrowExactlyAsync<InvalidOperationException>()).WithMessage("*the bus stopped before a worker took it*");
    }

    [Fact]
    public async Task SendQueuedAsync_ConcurrentSendersAndFourWorkers_EverySenderGetsTheResultOfItsOwnCommandExactlyOnce()
    {
        const int Senders = 8;
        const int PerSender = 500;
        await using var bus = await StartAsync(o => o.Workers = 4);

        var results = await Task.WhenAll(Enumerable.Range(0, Senders).Select(sender => Task.Run(async () =>
        {
            var received = new List<int>(PerSender);
            for (var i = 0; i < PerSender; i++)
            {
                received.Add((await bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(sender, i))).Value);
            }

            return received;
        }))).Within();

        for (var sender = 0; sender < Senders; sender++)
        {
            results[sender].Should().Equal(Enumerable.Range(0, PerSender).Select(i => (sender * 100_000) + i), "sender {0} awaited each of its commands in turn", sender);
        }

        var handled = bus.Get<Recorder<MessageContext>>().Items;
        handled.Should().HaveCount(Senders * PerSender, "each command is handled exactly once");
        handled.Select(c => c.MessageId).Distinct().Should().HaveCount(Senders * PerSender);
        bus.Undelivered.Items.Should().BeEmpty();
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task SendQueuedAsync_OneSenderInTurn_EachCommandWakesAnIdleWorker(int workers)
    {
        // Every command arrives on an empty queue while the other workers are parked, so each one is taken by the worker that the
        // previous command's worker made the next to wake (IdleWorkers): a lost wake-up hangs this test.
        const int Commands = 5_000;
        await using var bus = await StartAsync(o => o.Workers = workers);

        var received = await Task.Run(async () =>
        {
            var results = new List<int>(Commands);
            for (var i = 0; i < Commands; i++)
            {
                results.Add((await bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(1, i))).Value);
            }

            return results;
        }).Within();

        received.Should().Equal(Enumerable.Range(0, Commands).Select(i => 100_000 + i));
        bus.Get<Recorder<MessageContext>>().Items.Should().HaveCount(Commands, "each command is handled exactly once");
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Control.GetSnapshot().Single(s => s.Topic == typeof(Compute).FullName).Succeeded.Should().Be(Commands);
    }

    [Fact]
    public async Task SendQueuedAsync_BadInput_ThrowsWithTheReason()
    {
        await using var bus = await StartAsync();

        var nullWithResult = async () => await bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(null!);
        var nullVoid = async () => await bus.Get<ICommandSender<Record>>().SendQueuedAsync(null!);
        var unknown = () => bus.Get<ICommandSender<Unhandled, int>>();

        await nullWithResult.Should().ThrowAsync<ArgumentNullException>();
        await nullVoid.Should().ThrowAsync<ArgumentNullException>();
        unknown.Should().Throw<UnknownMessageTypeException>().Which.MessageType.Should().Be<Unhandled>();
        await bus.Control.StopAsync();
        var afterStop = async () => await bus.Get<ICommandSender<Compute, int>>().SendQueuedAsync(new Compute(1, 1));
        await afterStop.Should().ThrowAsync<ObjectDisposedException>();
    }

    private static Task<TestBus> StartAsync(Action<SubscriptionOptions>? queue = null, TimeSpan? stopTimeout = null) =>
        TestBus.StartAsync(b =>
        {
            b.AddCommandHandler<Compute, int, ComputeHandler>().AddCommandHandler<Record, RecordHandler>();
            if (queue is not null)
            {
                b.ConfigureSubscription<ComputeHandler>(queue);
            }

            if (stopTimeout is { } timeout)
            {
                b.Configure(o => o.StopTimeout = timeout);
            }
        });

    /// <summary>Returns <c>Sender * 100,000 + Index</c>; fails its first <paramref name="FailFirst"/> attempts, dead-letters itself, or waits for the gate, as asked.</summary>
    public sealed record Compute(int Sender, int Index, int FailFirst = 0, bool DeadLetter = false, bool Gated = false) : ICommand<int>;

    public sealed record Record(string Text) : ICommand;

    public sealed record Unhandled : ICommand<int>;

    public sealed class ComputeHandler(Recorder<MessageContext> contexts, Gate gate) : ICommandHandler<Compute, int>
    {
        public async ValueTask<CommandResult<int>> HandleAsync(Compute command, MessageContext context, CancellationToken cancellationToken)
        {
            contexts.Add(context);
            if (command.Gated)
            {
                await gate.WaitAsync(cancellationToken);
            }

            if (context.DeliveryCount <= command.FailFirst)
            {
                throw new InvalidOperationException($"attempt {context.DeliveryCount} failed");
            }

            if (command.DeadLetter)
            {
                context.Settlement!.Value.DeadLetter("not computable");
                return 0;
            }

            return command.Sender < 0
                ? CommandResult.Reject($"The sender must not be negative; it is {command.Sender}.", "negative")
                : (command.Sender * 100_000) + command.Index;
        }
    }

    public sealed class RecordHandler(Recorder<string> journal) : ICommandHandler<Record>
    {
        public ValueTask<CommandResult> HandleAsync(Record command, MessageContext context, CancellationToken cancellationToken)
        {
            if (command.Text.Length == 0)
            {
                return ValueTask.FromResult<CommandResult>(CommandResult.Reject("A text is required."));
            }

            journal.Add(command.Text);
            return ValueTask.FromResult(CommandResult.Accepted);
        }
    }
}
