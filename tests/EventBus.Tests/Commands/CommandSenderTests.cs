using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using static EventBus.Tests.Commands.CommandBusTests;
using static EventBus.Tests.Commands.InlineSendStampTests;

namespace EventBus.Tests.Commands;

/// <summary>
/// <see cref="ICommandSender{TCommand, TResult}"/> and <see cref="ICommandSender{TCommand}"/>: resolved from the container and
/// bound to their command's handler once, they send as <see cref="ICommandBus"/> does (results, rejections, exceptions,
/// envelopes, scopes, middleware), and their resolution fails for a command that no handler takes. (Every way a handler's task
/// completes is covered with the bus's sends, in <see cref="CommandBusTests"/>.)
/// </summary>
/// <remarks>In the collection of the tracing tests: while their listeners listen, every inline send is traced, hence stamped.</remarks>
[Collection(nameof(ActivityListenerCollection))]
public sealed class CommandSenderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 14, 0, 0, TimeSpan.Zero);

    /// <summary>A singleton handler (called through its bound method) and a scoped one (resolved in a scope per send).</summary>
    public static TheoryData<ServiceLifetime> Lifetimes => new(ServiceLifetime.Singleton, ServiceLifetime.Scoped);

    [Theory]
    [MemberData(nameof(Lifetimes))]
    public async Task SendAsync_CommandWithResult_ReturnsTheResultOrTheRejection(ServiceLifetime lifetime)
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<Reserve, int, ReserveHandler>(lifetime));
        var sender = bus.Get<ICommandSender<Reserve, int>>();

        var accepted = await sender.SendAsync(new Reserve("SKU-1", 3));
        var rejected = await sender.SendAsync(new Reserve("SKU-1", 50));
        var value = await sender.InvokeAsync(new Reserve("SKU-2", 4));
        var invokeRejected = async () => await sender.InvokeAsync(new Reserve("SKU-2", 11));

        accepted.Value.Should().Be(7);
        rejected.IsAccepted.Should().BeFalse();
        rejected.Rejection!.Code.Should().Be("insufficient-stock");
        value.Should().Be(6);
        var thrown = await invokeRejected.Should().ThrowExactlyAsync<CommandRejectedException>();
        thrown.Which.CommandType.Should().Be<Reserve>();
        thrown.Which.Rejection.Reason.Should().Be("Only 10 units of SKU-2 are in stock; 11 were ordered.");
        bus.Get<Recorder<string>>().Items.Should().Equal("reserve SKU-1 3", "reserve SKU-1 50", "reserve SKU-2 4", "reserve SKU-2 11");
    }

    [Theory]
    [MemberData(nameof(Lifetimes))]
    public async Task SendAsync_VoidCommand_ReturnsAcceptedOrRejected(ServiceLifetime lifetime)
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<Release, ReleaseHandler>(lifetime));
        var sender = bus.Get<ICommandSender<Release>>();

        var accepted = await sender.SendAsync(new Release("SKU-1"));
        var rejected = await sender.SendAsync(new Release(""));
        await sender.InvokeAsync(new Release("SKU-2"));
        var invokeRejected = async () => await sender.InvokeAsync(new Release(""));

        accepted.IsAccepted.Should().BeTrue();
        rejected.Rejection!.Reason.Should().Be("A SKU is required.");
        (await invokeRejected.Should().ThrowExactlyAsync<CommandRejectedException>()).Which.CommandType.Should().Be<Release>();
        bus.Get<Recorder<string>>().Items.Should().Equal("release SKU-1", "release SKU-2");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task InvokeAsync_HandlerRejectsOrThrows_AtOnceOrLater(bool asynchronously)
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<Appraise, int, AppraiseHandler>(ServiceLifetime.Singleton)
            .AddCommandHandler<Explode, ExplodeHandler>(ServiceLifetime.Singleton));
        var appraise = bus.Get<ICommandSender<Appraise, int>>();
        var explode = bus.Get<ICommandSender<Explode>>();

        var rejected = async () => await appraise.InvokeAsync(new Appraise(asynchronously, Value: -1));
        var thrownRejection = await explode.SendAsync(new Explode(asynchronously, Reject: true));
        var failed = async () => await explode.SendAsync(new Explode(asynchronously, Reject: false));

        (await rejected.Should().ThrowExactlyAsync<CommandRejectedException>()).Which.Rejection.Reason.Should().Be("-1 has no value.");
        thrownRejection.Rejection!.Reason.Should().Be("rejected by throwing", "a thrown CommandRejectedException is a rejection");
        await failed.Should().ThrowExactlyAsync<InvalidOperationException>().WithMessage("exploded");
        (await appraise.InvokeAsync(new Appraise(asynchronously, Value: 4))).Should().Be(40, "a failure does not break later sends");
    }

    [Fact]
    public async Task SendAsync_StructCommand_ReachesTheHandler()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<DoubleIt, int, DoubleHandler>(ServiceLifetime.Singleton));
        var sender = bus.Get<ICommandSender<DoubleIt, int>>();

        (await sender.SendAsync(new DoubleIt(21))).Value.Should().Be(42);
        (await sender.InvokeAsync(new DoubleIt(5))).Should().Be(10);
    }

    [Fact]
    public async Task SendAsync_Middleware_RunsAroundTheHandlerAndCanReject()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .UseMiddleware<ValidationMiddleware>()
            .AddCommandHandler<Reserve, int, ReserveHandler>(ServiceLifetime.Singleton));
        var sender = bus.Get<ICommandSender<Reserve, int>>();

        var refused = await sender.SendAsync(new Reserve("SKU-1", -1));
        var passed = await sender.InvokeAsync(new Reserve("SKU-1", 1));

        refused.Rejection!.Reason.Should().Be("Quantity must be positive; it is -1.");
        passed.Should().Be(9);
        bus.Get<Recorder<string>>().Items.Should().Equal(["reserve SKU-1 1"], "the middleware stopped the first command");
    }

    [Theory]
    [MemberData(nameof(Lifetimes))]
    public async Task SendAsync_Stamped_ContextHasANewIdAndTheTime(ServiceLifetime lifetime)
    {
        await using var bus = await StartQuotesAsync(lifetime, stamp: true);
        var sender = bus.Get<ICommandSender<Quote, int>>();

        await sender.SendAsync(new Quote(1));
        await sender.InvokeAsync(new Quote(2));

        var seen = bus.Get<Recorder<Seen>>().Items;
        seen.Should().HaveCount(2);
        seen.Should().OnlyContain(s => s.Context.Timestamp == Now && s.Context.MessageType == typeof(Quote).FullName);
        seen[0].Context.MessageId.Should().NotBe(MessageId.Empty);
        seen[0].Context.MessageId.Should().BeLessThan(seen[1].Context.MessageId, "ids are new and ordered per send");
    }

    [Theory]
    [MemberData(nameof(Lifetimes))]
    public async Task SendAsync_Unstamped_ContextKeepsTheSendersValuesOnly(ServiceLifetime lifetime)
    {
        await using var bus = await StartQuotesAsync(lifetime, stamp: false);
        var sender = bus.Get<ICommandSender<Quote, int>>();
        var options = new PublishOptions { CorrelationId = "order-7", Headers = new Dictionary<string, string> { ["tenant"] = "acme" } };

        (await sender.SendAsync(new Quote(3), options)).Value.Should().Be(30);

        var seen = bus.Get<Recorder<Seen>>().Items.Should().ContainSingle().Subject;
        seen.Context.MessageId.Should().Be(MessageId.Empty);
        seen.Context.Timestamp.Should().Be(DateTimeOffset.MinValue);
        seen.Context.CorrelationId.Should().Be("order-7");
        seen.Context.Headers.Should().Equal(options.Headers);
    }

    [Fact]
    public async Task InvokeAsync_CancellationToken_IsPassedToTheHandler()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<Probe, CancellationToken, TokenEchoHandler>());
        using var cancellation = new CancellationTokenSource();

        var token = await bus.Get<ICommandSender<Probe, CancellationToken>>().InvokeAsync(new Probe(), cancellation.Token);

        token.Should().Be(cancellation.Token);
    }

    [Fact]
    public async Task Resolve_SameSenderEveryTime_AndInjectableIntoAHandler()
    {
        // The modular-monolith shape: one module's handler takes another module's command sender in its constructor.
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<Reserve, int, ReserveHandler>()
            .AddCommandHandler<ReserveTwice, int, ReserveTwiceHandler>());

        var result = await bus.Get<ICommandSender<ReserveTwice, int>>().InvokeAsync(new ReserveTwice("SKU-9", 2));

        result.Should().Be(16, "two reservations of 2 leave 8 each; the handler adds both");
        bus.Get<ICommandSender<Reserve, int>>().Should().BeSameAs(bus.Get<ICommandSender<Reserve, int>>());
        bus.Get<Recorder<string>>().Items.Should().Equal("reserve SKU-9 2", "reserve SKU-9 2");
    }

    [Fact]
    public async Task Resolve_CommandWithoutHandler_ThrowsUnknownMessageTypeException()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<Release, ReleaseHandler>());

        var resolve = () => bus.Get<ICommandSender<Unhandled>>();
        var resolveWithResult = () => bus.Get<ICommandSender<Probe, CancellationToken>>();

        resolve.Should().ThrowExactly<UnknownMessageTypeException>().WithMessage($"*{typeof(Unhandled).FullName}*")
            .Which.MessageType.Should().Be<Unhandled>();
        resolveWithResult.Should().ThrowExactly<UnknownMessageTypeException>().Which.MessageType.Should().Be<Probe>();
    }

    [Fact]
    public async Task Resolve_AnotherResultTypeThanTheHandlers_ThrowsArgumentExceptionNamingBoth()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<TwoFaced, int, TwoFacedHandler>()
            .AddCommandHandler<Hybrid, HybridHandler>());

        var resolve = () => bus.Get<ICommandSender<TwoFaced, string>>();
        var resolveVoid = () => bus.Get<ICommandSender<Hybrid, int>>();

        resolve.Should().ThrowExactly<ArgumentException>()
            .WithMessage($"*'{typeof(TwoFaced).FullName}' is handled with the result type 'System.Int32' but was sent as returning 'System.String'*");
        resolveVoid.Should().ThrowExactly<ArgumentException>().WithMessage("*handled with the result type 'none (ICommand)'*");
        (await bus.Get<ICommandSender<TwoFaced, int>>().InvokeAsync(new TwoFaced())).Should().Be(7);
        (await bus.Get<ICommandSender<Hybrid>>().SendAsync(new Hybrid())).IsAccepted.Should().BeTrue();
    }

    [Fact]
    public async Task SendAsync_NullCommand_ThrowsArgumentNullException()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<Reserve, int, ReserveHandler>()
            .AddCommandHandler<Release, ReleaseHandler>());
        var sender = bus.Get<ICommandSender<Reserve, int>>();
        var voidSender = bus.Get<ICommandSender<Release>>();

        var send = async () => await sender.SendAsync(null!);
        var invoke = async () => await sender.InvokeAsync(null!);
        var sendVoid = async () => await voidSender.SendAsync(null!);
        var invokeVoid = async () => await voidSender.InvokeAsync(null!);

        (await send.Should().ThrowExactlyAsync<ArgumentNullException>()).Which.ParamName.Should().Be("command");
        await invoke.Should().ThrowExactlyAsync<ArgumentNullException>();
        await sendVoid.Should().ThrowExactlyAsync<ArgumentNullException>();
        await invokeVoid.Should().ThrowExactlyAsync<ArgumentNullException>();
        bus.Get<Recorder<string>>().Items.Should().BeEmpty();
    }

    [Fact]
    public async Task SendAsync_AfterStop_ThrowsObjectDisposedException()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<Reserve, int, ReserveHandler>());
        var sender = bus.Get<ICommandSender<Reserve, int>>();
        (await sender.InvokeAsync(new Reserve("SKU-1", 1))).Should().Be(9);
        await bus.Control.StopAsync();

        var send = async () => await sender.SendAsync(new Reserve("SKU-1", 1));
        var invoke = async () => await sender.InvokeAsync(new Reserve("SKU-1", 1));

        (await send.Should().ThrowExactlyAsync<ObjectDisposedException>()).Which.ObjectName.Should().Be(nameof(ICommandBus));
        (await invoke.Should().ThrowExactlyAsync<ObjectDisposedException>()).Which.Message.Should().Contain("accepts no more commands");
        bus.Get<Recorder<string>>().Count.Should().Be(1, "the handler ran for the send before the stop only");
    }

    private static Task<TestBus> StartQuotesAsync(ServiceLifetime lifetime, bool stamp) =>
        TestBus.StartAsync(
            b => b.Configure(o => o.StampInlineSends = stamp).AddCommandHandler<Quote, int, QuoteHandler>(lifetime),
            s => s.AddSingleton<TimeProvider>(new FakeTimeProvider(Now)));

    /// <summary>A command that could return a value or none; its handler returns none.</summary>
    public sealed record Hybrid : ICommand, ICommand<int>;

    public sealed class HybridHandler : ICommandHandler<Hybrid>
    {
        public ValueTask<CommandResult> HandleAsync(Hybrid command, MessageContext context, CancellationToken cancellationToken) => new(CommandResult.Accepted);
    }

    public sealed record ReserveTwice(string Sku, int Quantity) : ICommand<int>;

    public sealed class ReserveTwiceHandler(ICommandSender<Reserve, int> reserve) : ICommandHandler<ReserveTwice, int>
    {
        public async ValueTask<CommandResult<int>> HandleAsync(ReserveTwice command, MessageContext context, CancellationToken cancellationToken)
        {
            var first = await reserve.InvokeAsync(new Reserve(command.Sku, command.Quantity), cancellationToken);
            var second = await reserve.InvokeAsync(new Reserve(command.Sku, command.Quantity), cancellationToken);
            return first + second;
        }
    }
}
