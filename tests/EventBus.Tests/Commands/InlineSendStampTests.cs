using System.Diagnostics;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Commands;

/// <summary>
/// <see cref="EventBusOptions.StampInlineSends"/>: what the handler of an inline send sees in its <see cref="MessageContext"/> with
/// the option on (the default) and off, for a singleton handler (called through its bound method) and a scoped one (resolved
/// in a scope per send); that rejections are still results with it off; and that queued sends are stamped either way.
/// </summary>
/// <remarks>In the collection of the tracing tests: while their listeners listen, every inline send is traced, hence stamped.</remarks>
[Collection(nameof(ActivityListenerCollection))]
public sealed class InlineSendStampTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 9, 30, 0, TimeSpan.Zero);

    /// <summary>A singleton handler (called through its bound method) and a scoped one (resolved in a scope per send).</summary>
    public static TheoryData<ServiceLifetime> Lifetimes => new(ServiceLifetime.Singleton, ServiceLifetime.Scoped);

    /// <summary>Each lifetime with each way of refusing a command.</summary>
    public static TheoryData<ServiceLifetime, Refusal> LifetimesAndRefusals
    {
        get
        {
            var data = new TheoryData<ServiceLifetime, Refusal>();
            foreach (var lifetime in Lifetimes)
            {
                foreach (var refusal in new[] { Refusal.Returned, Refusal.Thrown, Refusal.ThrownAfterYielding })
                {
                    data.Add(lifetime, refusal);
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Lifetimes))]
    public async Task SendAsync_StampedByDefault_ContextHasANewIdTheTimeAndTheCallersTrace(ServiceLifetime lifetime)
    {
        await using var bus = await StartAsync(lifetime, stamp: null);
        using var caller = new Activity("caller").Start();

        var result = await bus.Commands.SendAsync(new Quote(3));
        await bus.Commands.SendAsync(new Quote(4));

        result.Value.Should().Be(30);
        var seen = bus.Get<Recorder<Seen>>().Items;
        seen.Should().HaveCount(2);
        seen[0].Context.MessageId.Should().NotBe(MessageId.Empty);
        seen[0].Context.MessageId.Should().BeLessThan(seen[1].Context.MessageId, "ids are new and ordered per send");
        seen[0].Context.Timestamp.Should().Be(Now);
        seen[0].Context.TraceContext.Should().Be(caller.Context);
        seen[0].Context.MessageType.Should().Be(typeof(Quote).FullName);
    }

    [Theory]
    [MemberData(nameof(Lifetimes))]
    public async Task SendAsync_StampInlineSendsOff_ContextHasNoIdNoTimeNoTraceButKeepsThePublishersValues(ServiceLifetime lifetime)
    {
        await using var bus = await StartAsync(lifetime, stamp: false);
        using var caller = new Activity("caller").Start();
        var options = new PublishOptions { CorrelationId = "order-7", Headers = new Dictionary<string, string> { ["tenant"] = "acme" } };

        var result = await bus.Commands.SendAsync(new Quote(3), options);

        result.Value.Should().Be(30);
        var seen = bus.Get<Recorder<Seen>>().Items.Should().ContainSingle().Subject;
        seen.Context.MessageId.Should().Be(MessageId.Empty);
        seen.Context.Timestamp.Should().Be(DateTimeOffset.MinValue);
        seen.Context.TraceContext.Should().Be(default(ActivityContext));
        seen.CurrentActivity.Should().BeSameAs(caller, "the handler runs on the caller's flow, so Activity.Current is the caller's");
        seen.Context.CorrelationId.Should().Be("order-7");
        seen.Context.Headers.Should().Equal(options.Headers);
        seen.Context.MessageType.Should().Be(typeof(Quote).FullName);
        seen.Context.Subscription.Should().BeNull();
        seen.Context.DeliveryCount.Should().Be(1);
    }

    [Theory]
    [MemberData(nameof(Lifetimes))]
    public async Task SendAsync_StampInlineSendsOff_KeepsAMessageIdGivenInTheOptions(ServiceLifetime lifetime)
    {
        await using var bus = await StartAsync(lifetime, stamp: false);
        var id = MessageId.NewId(new FakeTimeProvider(Now));

        await bus.Commands.SendAsync(new Quote(1), new PublishOptions { MessageId = id });

        bus.Get<Recorder<Seen>>().Items.Should().ContainSingle().Which.Context.MessageId.Should().Be(id);
    }

    [Theory]
    [MemberData(nameof(LifetimesAndRefusals))]
    public async Task SendAsync_StampInlineSendsOff_RejectionIsStillTheResult(ServiceLifetime lifetime, Refusal refusal)
    {
        await using var bus = await StartAsync(lifetime, stamp: false);
        (await bus.Commands.SendAsync(new Quote(1))).Value.Should().Be(10, "the first send binds a singleton's method; the next ones call it");
        (await bus.Commands.SendAsync(new Cancel(Refusal.None))).IsAccepted.Should().BeTrue();

        var result = await bus.Commands.SendAsync(new Quote(-1, refusal));
        var voidResult = await bus.Commands.SendAsync(new Cancel(refusal));

        result.IsAccepted.Should().BeFalse();
        result.Rejection!.Reason.Should().Be($"Quantity -1 refused ({refusal}).");
        voidResult.IsAccepted.Should().BeFalse();
        voidResult.Rejection!.Reason.Should().Be($"Cancel refused ({refusal}).");
        (await bus.Commands.SendAsync(new Quote(2))).Value.Should().Be(20, "a rejection does not break later sends");
    }

    [Fact]
    public async Task SendAsync_StampInlineSendsOffButAListenerOnTheBusSource_SendIsTracedAndStamped()
    {
        await using var bus = await StartAsync(ServiceLifetime.Singleton, stamp: false);
        await bus.Commands.SendAsync(new Quote(1)); // binds the singleton's method: the next send takes the direct path
        using var listener = new ActivityListener
        {
            // Listens, so the bus traces its sends, but records nothing (other collections' buses run beside this test).
            ShouldListenTo = static source => source.Name == EventBusTelemetry.SourceName,
            Sample = static (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.None,
        };
        ActivitySource.AddActivityListener(listener);

        (await bus.Commands.SendAsync(new Quote(2))).Value.Should().Be(20);

        var seen = bus.Get<Recorder<Seen>>().Items;
        seen.Should().HaveCount(2);
        seen[0].Context.MessageId.Should().Be(MessageId.Empty, "no listener listened to the first send");
        seen[1].Context.MessageId.Should().NotBe(MessageId.Empty, "a traced send is stamped, so its span can name the message");
        seen[1].Context.Timestamp.Should().Be(Now);
    }

    [Fact]
    public async Task SendQueuedAsync_StampInlineSendsOff_QueuedSendsAreStillStamped()
    {
        await using var bus = await StartAsync(ServiceLifetime.Singleton, stamp: false);

        var result = await bus.Get<ICommandSender<Quote, int>>().SendQueuedAsync(new Quote(5)).AsTask().Within();

        result.Value.Should().Be(50);
        var seen = bus.Get<Recorder<Seen>>().Items.Should().ContainSingle().Subject;
        seen.Context.MessageId.Should().NotBe(MessageId.Empty);
        seen.Context.Timestamp.Should().Be(Now);
        seen.Context.Subscription.Should().NotBeNull("a queued command is delivered by its queue's subscription");
    }

    private static Task<TestBus> StartAsync(ServiceLifetime lifetime, bool? stamp) =>
        TestBus.StartAsync(
            b =>
            {
                b.AddCommandHandler<Quote, int, QuoteHandler>(lifetime).AddCommandHandler<Cancel, CancelHandler>(lifetime);
                if (stamp is { } value)
                {
                    b.Configure(o => o.StampInlineSends = value);
                }
            },
            s => s.AddSingleton<TimeProvider>(new FakeTimeProvider(Now)));

    public enum Refusal
    {
        None,
        Returned,
        Thrown,
        ThrownAfterYielding,
    }

    public sealed record Quote(int Quantity, Refusal Refusal = Refusal.None) : ICommand<int>;

    public sealed record Cancel(Refusal Refusal) : ICommand;

    public sealed record Seen(MessageContext Context, Activity? CurrentActivity);

    public sealed class QuoteHandler(Recorder<Seen> seen) : ICommandHandler<Quote, int>
    {
        public ValueTask<CommandResult<int>> HandleAsync(Quote command, MessageContext context, CancellationToken cancellationToken)
        {
            seen.Add(new Seen(context, Activity.Current));
            return Refuse.Run<int>(command.Refusal, $"Quantity {command.Quantity} refused ({command.Refusal}).", command.Quantity * 10);
        }
    }

    public sealed class CancelHandler : ICommandHandler<Cancel>
    {
        public async ValueTask<CommandResult> HandleAsync(Cancel command, MessageContext context, CancellationToken cancellationToken)
        {
            var result = await Refuse.Run<int>(command.Refusal, $"Cancel refused ({command.Refusal}).", 0);
            return result.IsAccepted ? CommandResult.Accepted : result.Rejection;
        }
    }

    private static class Refuse
    {
        public static ValueTask<CommandResult<T>> Run<T>(Refusal refusal, string reason, T value) => refusal switch
        {
            Refusal.None => ValueTask.FromResult<CommandResult<T>>(value),
            Refusal.Returned => ValueTask.FromResult<CommandResult<T>>(CommandResult.Reject(reason)),
            Refusal.Thrown => throw new CommandRejectedException(reason),
            _ => ThrowAfterYieldingAsync<T>(reason),
        };

        private static async ValueTask<CommandResult<T>> ThrowAfterYieldingAsync<T>(string reason)
        {
            await Task.Yield();
            throw new CommandRejectedException(reason);
        }
    }
}
