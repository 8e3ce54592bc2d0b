using System.Diagnostics;
using System.Runtime.CompilerServices;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Messages;

/// <summary><see cref="MessageContext"/>: the envelope each handler receives, filled from <see cref="PublishOptions"/> and the bus.</summary>
public sealed class MessageContextTests
{
    [Fact]
    public async Task PublishAsync_WithOptions_ContextCarriesCorrelationCausationHeadersAndPartitionKey()
    {
        await using var bus = await StartAsync();
        var headers = new Dictionary<string, string> { ["tenant"] = "acme", ["traceparent"] = "00-abc-def-01" };

        await bus.Bus.PublishAsync(new Noted(1), new PublishOptions { CorrelationId = "corr-1", CausationId = "cause-1", Headers = headers, PartitionKey = "customer-42" });

        var context = (await bus.Log<NotedHandler<FirstTag>, MessageContext>().WaitForCountAsync(1)).Single();
        context.CorrelationId.Should().Be("corr-1");
        context.CausationId.Should().Be("cause-1");
        context.Headers.Should().BeEquivalentTo(headers);
        context.PartitionKey.Should().Be("customer-42");
        context.MessageType.Should().Be(typeof(Noted).FullName);
        context.Subscription.Should().Be(typeof(NotedHandler<FirstTag>).FullName);
        context.DeliveryCount.Should().Be(1);
        context.Redelivered.Should().BeFalse();
    }

    [Fact]
    public async Task PublishAsync_WithoutOptions_EnvelopeValuesAreEmpty()
    {
        await using var bus = await StartAsync();

        await bus.Bus.PublishAsync(new Noted(1));

        var context = (await bus.Log<NotedHandler<FirstTag>, MessageContext>().WaitForCountAsync(1)).Single();
        context.CorrelationId.Should().BeNull();
        context.CausationId.Should().BeNull();
        context.PartitionKey.Should().BeNull();
        context.Headers.Should().NotBeNull().And.BeEmpty();
        context.MessageId.Should().NotBe(MessageId.Empty);
    }

    [Fact]
    public async Task PublishBatchAsync_WithOptions_EveryEventCarriesThemWithItsOwnMessageId()
    {
        await using var bus = await StartAsync();

        await bus.Bus.PublishBatchAsync([new Noted(1), new Noted(2), new Noted(3)], new PublishOptions { CorrelationId = "batch-1" });

        var contexts = await bus.Log<NotedHandler<FirstTag>, MessageContext>().WaitForCountAsync(3);
        contexts.Should().OnlyContain(c => c.CorrelationId == "batch-1");
        contexts.Select(c => c.MessageId).Should().OnlyHaveUniqueItems().And.BeInAscendingOrder();
    }

    [Fact]
    public async Task PublishAsync_TwoSubscriptions_ShareMessageIdAndEachSeesItsOwnSubscriptionName()
    {
        await using var bus = await StartAsync(b => b.AddEventHandler<Noted, NotedHandler<SecondTag>>());

        await bus.Bus.PublishAsync(new Noted(1));

        var first = (await bus.Log<NotedHandler<FirstTag>, MessageContext>().WaitForCountAsync(1)).Single();
        var second = (await bus.Log<NotedHandler<SecondTag>, MessageContext>().WaitForCountAsync(1)).Single();
        second.MessageId.Should().Be(first.MessageId, "one publish is one message");
        first.Subscription.Should().Be(typeof(NotedHandler<FirstTag>).FullName);
        second.Subscription.Should().Be(typeof(NotedHandler<SecondTag>).FullName);
    }

    [Fact]
    public async Task PublishAsync_RegisteredTimeProvider_StampsTimestampAndMessageId()
    {
        var now = new DateTimeOffset(2032, 2, 3, 4, 5, 6, 789, TimeSpan.Zero);
        await using var bus = await StartAsync(services: s => s.AddSingleton<TimeProvider>(new FakeTimeProvider(now)));

        await bus.Bus.PublishAsync(new Noted(1));

        var context = (await bus.Log<NotedHandler<FirstTag>, MessageContext>().WaitForCountAsync(1)).Single();
        context.Timestamp.Should().Be(now);
        context.MessageId.UnixTimeMilliseconds.Should().Be(now.ToUnixTimeMilliseconds());
    }

    [Fact]
    public async Task PublishAsync_SequentialPublishes_MessageIdsIncrease()
    {
        await using var bus = await StartAsync();

        for (var i = 0; i < 100; i++)
        {
            await bus.Bus.PublishAsync(new Noted(i));
        }

        (await bus.Log<NotedHandler<FirstTag>, MessageContext>().WaitForCountAsync(100)).Select(c => c.MessageId).Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
    }

    [Fact]
    public void Layout_EveryFieldKeepsItsValue_In80Bytes()
    {
        // The struct's offsets are set by hand (see the layout comment in MessageContext): every value written must read back.
        var id = MessageId.NewId(new DateTimeOffset(2026, 11, 28, 10, 0, 0, TimeSpan.Zero));
        var options = new PublishOptions { CorrelationId = "corr-1" };
        using var trace = new Activity("layout");
        var context = new MessageContext(id, "Orders.Placed", 638_000_000_000_000_000, options, trace, "billing", deliveryCount: 3, settlement: null, settlementVersion: 7, offsetPlusOne: 42);

        context.MessageId.Should().Be(id);
        context.MessageType.Should().Be("Orders.Placed");
        context.Timestamp.UtcTicks.Should().Be(638_000_000_000_000_000);
        context.CorrelationId.Should().Be("corr-1");
        context.Trace.Should().BeSameAs(trace);
        context.Subscription.Should().Be("billing");
        context.DeliveryCount.Should().Be(3);
        context.OffsetPlusOne.Should().Be(42);
        Unsafe.SizeOf<MessageContext>().Should().Be(80);
    }

    private static Task<TestBus> StartAsync(Action<EventBusBuilder>? configure = null, Action<IServiceCollection>? services = null) =>
        TestBus.StartAsync(
            b =>
            {
                b.AddEventHandler<Noted, NotedHandler<FirstTag>>();
                configure?.Invoke(b);
            },
            services);

    public sealed record Noted(int N);

    /// <summary>Records what it handles; each <typeparamref name="TTag"/> is a handler type of its own, hence a subscription of its own.</summary>
    public sealed class NotedHandler<TTag>(Recorder<NotedHandler<TTag>, MessageContext> log) : IEventHandler<Noted>
    {
        public ValueTask HandleAsync(Noted @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(context);
            return default;
        }
    }

    public sealed class FirstTag;

    public sealed class SecondTag;

}
