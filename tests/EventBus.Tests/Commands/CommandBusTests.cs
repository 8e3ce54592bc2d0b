using System.Threading.Tasks.Sources;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Commands;

/// <summary><see cref="ICommandBus"/>: results, rejections as outcomes, exceptions, and enqueued commands.</summary>
public sealed class CommandBusTests
{
    [Fact]
    public async Task SendAsync_CommandWithResult_ReturnsTheHandlersResult()
    {
        await using var bus = await StartAsync();

        var result = await bus.Commands.SendAsync(new Reserve("SKU-1", 3));

        result.IsAccepted.Should().BeTrue();
        result.Rejection.Should().BeNull();
        result.Value.Should().Be(7, "10 in stock minus 3 reserved");
    }

    [Fact]
    public async Task SendAsync_HandlerRejects_ReturnsRejectionInsteadOfThrowing()
    {
        await using var bus = await StartAsync();

        var result = await bus.Commands.SendAsync(new Reserve("SKU-1", 50));

        result.IsAccepted.Should().BeFalse();
        result.Rejection!.Reason.Should().Be("Only 10 units of SKU-1 are in stock; 50 were ordered.");
        result.Rejection.Code.Should().Be("insufficient-stock");
        var value = () => result.Value;
        value.Should().Throw<CommandRejectedException>().WithMessage("*rejected*").Which.Rejection.Should().BeSameAs(result.Rejection);
    }

    [Fact]
    public async Task SendAsync_VoidCommand_ReturnsAcceptedOrRejected()
    {
        await using var bus = await StartAsync();

        (await bus.Commands.SendAsync(new Release("SKU-1"))).IsAccepted.Should().BeTrue();
        var rejected = await bus.Commands.SendAsync(new Release(""));
        rejected.IsAccepted.Should().BeFalse();
        rejected.Rejection!.Reason.Should().Be("A SKU is required.");
    }

    [Fact]
    public async Task ResultValueAndThrowIfRejected_HandlerRejects_ThrowCommandRejectedException()
    {
        await using var bus = await StartAsync();

        var withResult = async () => (await bus.Commands.SendAsync(new Reserve("SKU-1", 50))).Value;
        var withoutResult = async () => (await bus.Commands.SendAsync(new Release(""))).ThrowIfRejected();

        var thrown = await withResult.Should().ThrowAsync<CommandRejectedException>();
        thrown.Which.Rejection.Reason.Should().Be("Only 10 units of SKU-1 are in stock; 50 were ordered.");
        thrown.Which.CommandType.Should().Be<object>("a result does not name its command type");
        thrown.Which.Message.Should().Be("The command was rejected: Only 10 units of SKU-1 are in stock; 50 were ordered.");
        (await withoutResult.Should().ThrowAsync<CommandRejectedException>()).Which.Rejection.Reason.Should().Be("A SKU is required.");
    }

    [Fact]
    public async Task ResultValueAndThrowIfRejected_HandlerAccepts_ReturnTheValueAndNothing()
    {
        await using var bus = await StartAsync();

        (await bus.Commands.SendAsync(new Reserve("SKU-1", 4))).Value.Should().Be(6);
        (await bus.Commands.SendAsync(new Release("SKU-1"))).ThrowIfRejected();
        bus.Get<Recorder<string>>().Items.Should().Equal("reserve SKU-1 4", "release SKU-1");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SendAsync_HandlerThrows_ExceptionPropagatesToTheCaller(bool asynchronously)
    {
        await using var bus = await StartAsync();

        var send = async () => await bus.Commands.SendAsync(new Explode(asynchronously, Reject: false));
        var invoke = async () => await bus.Get<ICommandSender<Explode>>().InvokeAsync(new Explode(asynchronously, Reject: false));

        await send.Should().ThrowExactlyAsync<InvalidOperationException>().WithMessage("exploded");
        await invoke.Should().ThrowExactlyAsync<InvalidOperationException>().WithMessage("exploded");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SendAsync_HandlerThrowsCommandRejectedException_ReturnsRejection(bool asynchronously)
    {
        await using var bus = await StartAsync();

        var result = await bus.Commands.SendAsync(new Explode(asynchronously, Reject: true));

        result.IsAccepted.Should().BeFalse();
        result.Rejection!.Reason.Should().Be("rejected by throwing");
    }

    [Fact]
    public async Task SendAsync_MiddlewareThrowsCommandRejectedException_ReturnsRejectionWithoutCallingTheHandler()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .UseMiddleware<ValidationMiddleware>()
            .AddCommandHandler<Reserve, int, ReserveHandler>());

        var result = await bus.Commands.SendAsync(new Reserve("SKU-1", -1));

        result.IsAccepted.Should().BeFalse();
        result.Rejection!.Reason.Should().Be("Quantity must be positive; it is -1.");
        bus.Get<Recorder<string>>().Items.Should().BeEmpty("the handler was not called");
        (await bus.Commands.SendAsync(new Reserve("SKU-1", 1))).Value.Should().Be(9, "valid commands pass the middleware");
    }

    [Fact]
    public async Task SendAsync_Context_HasMessageIdAndCommandTypeButNoSubscription()
    {
        await using var bus = await StartAsync();

        await bus.Commands.SendAsync(new Release("SKU-1"));
        await bus.Commands.SendAsync(new Release("SKU-2"));

        var contexts = bus.Get<Recorder<MessageContext>>().Items;
        contexts.Should().HaveCount(2);
        contexts.Should().OnlyContain(c => c.MessageType == typeof(Release).FullName && c.Subscription == null && c.DeliveryCount == 1);
        contexts[0].MessageId.Should().BeLessThan(contexts[1].MessageId);
    }

    [Fact]
    public async Task EnqueueAsync_Commands_HandledByTheQueueWorkers()
    {
        const int Commands = 200;
        await using var bus = await TestBus.StartAsync(b => b
            .Configure(o => o.QueueWorkers = 3)
            .AddCommandHandler<Reserve, int, ReserveHandler>()
            .AddCommandHandler<Release, ReleaseHandler>());

        for (var i = 0; i < Commands; i++)
        {
            await bus.Commands.EnqueueAsync(new Release($"SKU-{i}"));
        }

        var handled = await bus.Get<Recorder<string>>().WaitForCountAsync(Commands);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        handled.Should().BeEquivalentTo(Enumerable.Range(0, Commands).Select(i => $"release SKU-{i}"));
        bus.Get<Recorder<string>>().Count.Should().Be(Commands, "each enqueued command is handled once");
        var queue = bus.Control.GetSnapshot().Single(s => s.Topic == typeof(Release).FullName);
        queue.Should().Match<SubscriptionSnapshot>(s => s.Mode == DeliveryMode.Queue && s.Workers == 3 && s.Succeeded == Commands && s.Failed == 0);
        queue.Subscription.Should().Be(typeof(ReleaseHandler).FullName);
        bus.Get<Recorder<MessageContext>>().Items.Should().OnlyContain(c => c.Subscription == typeof(ReleaseHandler).FullName);
    }

    [Fact]
    public async Task EnqueueAsync_HandlerRejects_ReportedToOnUndeliveredAsCommandRejected()
    {
        await using var bus = await StartAsync();
        var options = new PublishOptions { CorrelationId = "order-7" };

        await bus.Commands.EnqueueAsync(new Reserve("SKU-1", 50), options);
        await bus.Commands.EnqueueAsync(new Reserve("SKU-1", 5));

        var report = (await bus.Undelivered.WaitForCountAsync(1)).Single();
        await bus.Get<Recorder<string>>().WaitForCountAsync(2);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        report.Reason.Should().Be(UndeliveredReason.CommandRejected);
        report.Message.Should().Be(new Reserve("SKU-1", 50));
        report.Context.CorrelationId.Should().Be("order-7");
        report.Subscription.Should().Be(typeof(ReserveHandler).FullName);
        report.Exception.Should().BeOfType<CommandRejectedException>().Which.Rejection.Should().Be(new CommandRejection("Only 10 units of SKU-1 are in stock; 50 were ordered.", "insufficient-stock"));
        bus.Undelivered.Count.Should().Be(1, "the accepted command is not reported");
        bus.Control.GetSnapshot().Single(s => s.Topic == typeof(Reserve).FullName).Should().Match<SubscriptionSnapshot>(s => s.Failed == 1 && s.Succeeded == 1);
    }

    [Fact]
    public async Task EnqueueAsync_HandlerThrows_ReportedAsHandlerFailed()
    {
        await using var bus = await StartAsync();

        await bus.Commands.EnqueueAsync(new Explode(Asynchronously: true, Reject: false));

        var report = (await bus.Undelivered.WaitForCountAsync(1)).Single();
        report.Reason.Should().Be(UndeliveredReason.HandlerFailed);
        report.Exception.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be("exploded");
    }

    [Fact]
    public async Task EnqueueAsync_HandlerThrowsCommandRejectedException_ReportedAsCommandRejected()
    {
        await using var bus = await StartAsync();

        await bus.Commands.EnqueueAsync(new Explode(Asynchronously: true, Reject: true));

        var report = (await bus.Undelivered.WaitForCountAsync(1)).Single();
        report.Reason.Should().Be(UndeliveredReason.CommandRejected);
        report.Exception.Should().BeOfType<CommandRejectedException>().Which.Rejection.Reason.Should().Be("rejected by throwing");
    }

    [Fact]
    public async Task SendAsync_CancellationToken_IsPassedToTheHandler()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<Probe, CancellationToken, TokenEchoHandler>());
        using var cancellation = new CancellationTokenSource();

        var token = (await bus.Commands.SendAsync(new Probe(), cancellationToken: cancellation.Token)).Value;

        token.Should().Be(cancellation.Token);
    }

    [Fact]
    public async Task EnqueueAsync_BeforeStart_HandledOnceStarted()
    {
        await using var bus = TestBus.Build(b => b.AddCommandHandler<Release, ReleaseHandler>());

        await bus.Commands.EnqueueAsync(new Release("SKU-1"));
        bus.Get<Recorder<string>>().Count.Should().Be(0);
        await bus.Control.StartAsync();

        (await bus.Get<Recorder<string>>().WaitForCountAsync(1)).Should().Equal("release SKU-1");
    }

    [Fact]
    public async Task SendAsync_AfterStop_ThrowsObjectDisposedException()
    {
        await using var bus = await StartAsync();
        await bus.Control.StopAsync();

        var send = async () => await bus.Commands.SendAsync(new Release("SKU-1"));
        var enqueue = async () => await bus.Commands.EnqueueAsync(new Release("SKU-1"));

        (await send.Should().ThrowAsync<ObjectDisposedException>()).Which.Should().Match<ObjectDisposedException>(e =>
            e.ObjectName == nameof(ICommandBus) && e.Message.Contains("accepts no more commands") && !e.Message.Contains("Publish"));
        (await enqueue.Should().ThrowAsync<ObjectDisposedException>()).Which.Should().Match<ObjectDisposedException>(e =>
            e.ObjectName == nameof(ICommandBus) && e.Message.Contains("accepts no more commands"));
    }

    [Fact]
    public async Task SendAsync_NullCommand_ThrowsArgumentNullException()
    {
        await using var bus = await StartAsync();

        var send = async () => await bus.Commands.SendAsync((ICommand)null!);
        var sendWithResult = async () => await bus.Commands.SendAsync((ICommand<int>)null!);
        var enqueue = async () => await bus.Commands.EnqueueAsync<Release>(null!);

        await send.Should().ThrowAsync<ArgumentNullException>();
        await sendWithResult.Should().ThrowAsync<ArgumentNullException>();
        await enqueue.Should().ThrowAsync<ArgumentNullException>();
    }

    [Fact]
    public async Task SendAsync_CommandWithoutHandler_ThrowsUnknownMessageTypeException()
    {
        await using var bus = await StartAsync();

        var send = async () => await bus.Commands.SendAsync(new Unhandled());
        var enqueue = async () => await bus.Commands.EnqueueAsync(new Unhandled());

        (await send.Should().ThrowAsync<UnknownMessageTypeException>().WithMessage($"*{typeof(Unhandled).FullName}*")).Which.MessageType.Should().Be<Unhandled>();
        await enqueue.Should().ThrowAsync<UnknownMessageTypeException>().WithMessage($"*{typeof(Unhandled).FullName}*");
    }

    [Fact]
    public async Task EnqueueAsync_Event_ThrowsArgumentException()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<Release, ReleaseHandler>()
            .AddEventHandler<Released, ReleasedHandler>());

        var enqueue = async () => await bus.Commands.EnqueueAsync(new Released("SKU-1"));

        await enqueue.Should().ThrowExactlyAsync<ArgumentException>().WithMessage($"*{typeof(Released).FullName}*not a command*");
    }

    [Fact]
    public async Task SendAsync_CommandIsAStruct_InlineAndQueuedSendsBothReachTheHandler()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<DoubleIt, int, DoubleHandler>());

        var inline = await bus.Commands.SendAsync(new DoubleIt(21));
        var queued = await bus.Get<ICommandSender<DoubleIt, int>>().SendQueuedAsync(new DoubleIt(4)).AsTask().Within();

        inline.Value.Should().Be(42);
        queued.Value.Should().Be(8);
    }

    [Fact]
    public async Task SendAsync_SingletonHandlers_EachCommandReachesItsOwnMethod()
    {
        // A singleton handler without middleware is called through a delegate bound once to its method. One instance handles
        // two commands here, one of them through an explicit interface implementation.
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<AddAmount, int, Calculator>(ServiceLifetime.Singleton)
            .AddCommandHandler<ClearTotal, Calculator>(ServiceLifetime.Singleton));

        (await bus.Commands.SendAsync(new AddAmount(2))).Value.Should().Be(2);
        (await bus.Commands.SendAsync(new AddAmount(3))).Value.Should().Be(5);
        (await bus.Commands.SendAsync(new AddAmount(-1))).Rejection!.Reason.Should().Be("Only positive amounts are added; -1 is not.");
        (await bus.Get<ICommandSender<AddAmount, int>>().SendQueuedAsync(new AddAmount(4)).AsTask().Within()).Value.Should().Be(9);

        (await bus.Commands.SendAsync(new ClearTotal(Asynchronously: true, Refuse: false))).IsAccepted.Should().BeTrue();
        (await bus.Commands.SendAsync(new AddAmount(1))).Value.Should().Be(1, "the total was cleared");
        var refused = await bus.Commands.SendAsync(new ClearTotal(Asynchronously: false, Refuse: true));
        refused.Rejection!.Reason.Should().Be("The total is kept.");
        var refusedLater = await bus.Commands.SendAsync(new ClearTotal(Asynchronously: true, Refuse: true));
        refusedLater.Rejection!.Reason.Should().Be("The total is kept.");
        (await bus.Commands.SendAsync(new AddAmount(1))).Value.Should().Be(2, "a refused clear keeps the total");
        bus.Get<Calculator>().Calls.Should().Be(9);
    }

    /// <summary>Every way a handler's task completes, sent through the bus, and sent and invoked through a typed sender.</summary>
    public static TheoryData<Completion, bool, bool> Completions
    {
        get
        {
            var data = new TheoryData<Completion, bool, bool>();
            foreach (var completion in Enum.GetValues<Completion>())
            {
                foreach (var (invoke, typed) in new[] { (false, false), (false, true), (true, true) })
                {
                    data.Add(completion, invoke, typed);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Completions))]
    public async Task SendAsync_SingletonHandler_ReturnsTheResultHoweverTheHandlersTaskCompletes(Completion completion, bool invoke, bool typedSender)
    {
        // The bound path of a singleton rebuilds a completed result from its value instead of returning the handler's task, and
        // a completed invoke returns the value itself: every kind of completed task must give its value, and a task source
        // must be read exactly once.
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<Square, int, SquareHandler>(ServiceLifetime.Singleton));
        var sender = bus.Get<ICommandSender<Square, int>>();

        for (var i = 1; i <= 3; i++)
        {
            var command = new Square(i, completion);
            var value = (invoke, typedSender) switch
            {
                (false, false) => (await bus.Commands.SendAsync(command)).Value,
                (true, true) => await sender.InvokeAsync(command),
                _ => (await sender.SendAsync(command)).Value,
            };

            value.Should().Be(i * i);
        }

        bus.Get<SquareHandler>().SourceReads.Should().Be(completion == Completion.CompletedSource ? 3 : 0);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TypedInvokeAsync_HandlerRejects_ThrowsWhetherItRejectsAtOnceOrLater(bool asynchronously)
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<Appraise, int, AppraiseHandler>()
            .AddCommandHandler<Explode, ExplodeHandler>());

        var withResult = async () => await bus.Get<ICommandSender<Appraise, int>>().InvokeAsync(new Appraise(asynchronously, Value: -1));
        var withoutResult = async () => await bus.Get<ICommandSender<Explode>>().InvokeAsync(new Explode(asynchronously, Reject: true));

        var thrown = await withResult.Should().ThrowExactlyAsync<CommandRejectedException>();
        thrown.Which.CommandType.Should().Be<Appraise>();
        thrown.Which.Rejection.Reason.Should().Be("-1 has no value.");
        (await withoutResult.Should().ThrowExactlyAsync<CommandRejectedException>()).Which.CommandType.Should().Be<Explode>();
        (await bus.Get<ICommandSender<Appraise, int>>().InvokeAsync(new Appraise(asynchronously, Value: 4))).Should().Be(40);
    }

    [Fact]
    public async Task SendAsync_CommandSentAsAnotherResultType_ThrowsArgumentExceptionNamingBoth()
    {
        // A type can implement ICommand<T> for two results; its handler takes one of them. Sent as the other, the bus says so
        // instead of failing a cast.
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<TwoFaced, int, TwoFacedHandler>());

        var send = async () => await bus.Commands.SendAsync((ICommand<string>)new TwoFaced());
        var sender = () => bus.Get<ICommandSender<TwoFaced, string>>();

        await send.Should().ThrowExactlyAsync<ArgumentException>()
            .WithMessage($"*'{typeof(TwoFaced).FullName}' is handled with the result type 'System.Int32' but was sent as returning 'System.String'*");
        sender.Should().Throw<ArgumentException>("a typed sender, which also makes queued sends, is refused for the other result type");
        (await bus.Commands.SendAsync((ICommand<int>)new TwoFaced())).Value.Should().Be(7);
        (await bus.Get<ICommandSender<TwoFaced, int>>().SendQueuedAsync(new TwoFaced()).AsTask().Within()).Value.Should().Be(7);
    }

    private static Task<TestBus> StartAsync() =>
        TestBus.StartAsync(b => b
            .AddCommandHandler<Reserve, int, ReserveHandler>()
            .AddCommandHandler<Release, ReleaseHandler>()
            .AddCommandHandler<Explode, ExplodeHandler>());

    public sealed record Reserve(string Sku, int Quantity) : ICommand<int>;

    public sealed record Release(string Sku) : ICommand;

    public sealed record Explode(bool Asynchronously, bool Reject) : ICommand;

    public sealed record Unhandled : ICommand;

    public readonly record struct DoubleIt(int Value) : ICommand<int>;

    public sealed class DoubleHandler : ICommandHandler<DoubleIt, int>
    {
        public ValueTask<CommandResult<int>> HandleAsync(DoubleIt command, MessageContext context, CancellationToken cancellationToken) =>
            ValueTask.FromResult<CommandResult<int>>(command.Value * 2);
    }

    public sealed record AddAmount(int Amount) : ICommand<int>;

    public sealed record ClearTotal(bool Asynchronously, bool Refuse) : ICommand;

    public sealed class Calculator : ICommandHandler<AddAmount, int>, ICommandHandler<ClearTotal>
    {
        private int _total;

        public int Calls { get; private set; }

        public async ValueTask<CommandResult> HandleAsync(ClearTotal command, MessageContext context, CancellationToken cancellationToken)
        {
            Calls++;
            if (command.Asynchronously)
            {
                await Task.Yield();
            }

            if (command.Refuse)
            {
                throw new CommandRejectedException("The total is kept.");
            }

            _total = 0;
            return CommandResult.Accepted;
        }

        ValueTask<CommandResult<int>> ICommandHandler<AddAmount, int>.HandleAsync(AddAmount command, MessageContext context, CancellationToken cancellationToken)
        {
            Calls++;
            if (command.Amount <= 0)
            {
                return ValueTask.FromResult<CommandResult<int>>(CommandResult.Reject($"Only positive amounts are added; {command.Amount} is not."));
            }

            _total += command.Amount;
            return ValueTask.FromResult<CommandResult<int>>(_total);
        }
    }

    public enum Completion
    {
        Value,
        CompletedTask,
        CompletedSource,
        Later,
    }

    public sealed record Square(int Value, Completion Completion) : ICommand<int>;

    public sealed class SquareHandler : ICommandHandler<Square, int>
    {
        private int _sourceReads;

        public int SourceReads => Volatile.Read(ref _sourceReads);

        public ValueTask<CommandResult<int>> HandleAsync(Square command, MessageContext context, CancellationToken cancellationToken)
        {
            CommandResult<int> result = command.Value * command.Value;
            return command.Completion switch
            {
                Completion.Value => new(result),
                Completion.CompletedTask => new(Task.FromResult(result)),
                Completion.CompletedSource => new(new CompletedSource(this, result), 0),
                _ => LaterAsync(result),
            };
        }

        private static async ValueTask<CommandResult<int>> LaterAsync(CommandResult<int> result)
        {
            await Task.Yield();
            return result;
        }

        /// <summary>A completed task source that counts how often its result is read.</summary>
        private sealed class CompletedSource(SquareHandler owner, CommandResult<int> result) : IValueTaskSource<CommandResult<int>>
        {
            public CommandResult<int> GetResult(short token)
            {
                Interlocked.Increment(ref owner._sourceReads);
                return result;
            }

            public ValueTaskSourceStatus GetStatus(short token) => ValueTaskSourceStatus.Succeeded;

            public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
                throw new InvalidOperationException("A completed source is never awaited.");
        }
    }

    public sealed record Appraise(bool Asynchronously, int Value) : ICommand<int>;

    public sealed class AppraiseHandler : ICommandHandler<Appraise, int>
    {
        public ValueTask<CommandResult<int>> HandleAsync(Appraise command, MessageContext context, CancellationToken cancellationToken) =>
            command.Asynchronously ? LaterAsync(command.Value) : new(Appraise(command.Value));

        private static async ValueTask<CommandResult<int>> LaterAsync(int value)
        {
            await Task.Yield();
            return Appraise(value);
        }

        private static CommandResult<int> Appraise(int value) => value > 0 ? value * 10 : CommandResult.Reject($"{value} has no value.");
    }

    public sealed record TwoFaced : ICommand<int>, ICommand<string>;

    public sealed class TwoFacedHandler : ICommandHandler<TwoFaced, int>
    {
        public ValueTask<CommandResult<int>> HandleAsync(TwoFaced command, MessageContext context, CancellationToken cancellationToken) => new(7);
    }

    public sealed record Probe : ICommand<CancellationToken>;

    public sealed class TokenEchoHandler : ICommandHandler<Probe, CancellationToken>
    {
        public ValueTask<CommandResult<CancellationToken>> HandleAsync(Probe command, MessageContext context, CancellationToken cancellationToken) =>
            ValueTask.FromResult<CommandResult<CancellationToken>>(cancellationToken);
    }

    public sealed record Released(string Sku);

    public sealed class ReserveHandler(Recorder<string> journal) : ICommandHandler<Reserve, int>
    {
        private const int InStock = 10;

        public ValueTask<CommandResult<int>> HandleAsync(Reserve command, MessageContext context, CancellationToken cancellationToken)
        {
            journal.Add($"reserve {command.Sku} {command.Quantity}");
            return ValueTask.FromResult<CommandResult<int>>(command.Quantity <= InStock
                ? InStock - command.Quantity
                : CommandResult.Reject($"Only {InStock} units of {command.Sku} are in stock; {command.Quantity} were ordered.", "insufficient-stock"));
        }
    }

    public sealed class ReleaseHandler(Recorder<string> journal, Recorder<MessageContext> contexts) : ICommandHandler<Release>
    {
        public async ValueTask<CommandResult> HandleAsync(Release command, MessageContext context, CancellationToken cancellationToken)
        {
            await Task.Yield();
            contexts.Add(context);
            if (command.Sku.Length == 0)
            {
                return CommandResult.Reject("A SKU is required.");
            }

            journal.Add($"release {command.Sku}");
            return CommandResult.Accepted;
        }
    }

    public sealed class ExplodeHandler : ICommandHandler<Explode>
    {
        public ValueTask<CommandResult> HandleAsync(Explode command, MessageContext context, CancellationToken cancellationToken) =>
            command.Asynchronously ? ThrowAsync(command.Reject) : throw Create(command.Reject);

        private static async ValueTask<CommandResult> ThrowAsync(bool reject)
        {
            await Task.Yield();
            throw Create(reject);
        }

        private static Exception Create(bool reject) =>
            reject ? new CommandRejectedException("rejected by throwing") : new InvalidOperationException("exploded");
    }

    public sealed class ValidationMiddleware : MessageMiddleware<Reserve>
    {
        protected override ValueTask InvokeAsync(Reserve message, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken) =>
            message.Quantity > 0 ? next() : throw new CommandRejectedException($"Quantity must be positive; it is {message.Quantity}.");
    }

    public sealed class ReleasedHandler : IEventHandler<Released>
    {
        public ValueTask HandleAsync(Released @event, MessageContext context, CancellationToken cancellationToken) => default;
    }
}
