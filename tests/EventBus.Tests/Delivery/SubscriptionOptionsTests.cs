using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Delivery;

/// <summary>Effective subscription options: the handler's over the topic's over the bus defaults.</summary>
public sealed class SubscriptionOptionsTests
{
    [Fact]
    public async Task GetSnapshot_OptionsAtEveryLevel_HandlerWinsOverTopicWinsOverBusDefaults()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .Configure(o =>
            {
                o.DefaultCapacity = 100;
                o.DefaultFullPolicy = FullPolicy.FailFast;
                o.QueueWorkers = 3;
            })
            .AddTopic<Reading>(o =>
            {
                o.Capacity = 50;
                o.FullPolicy = FullPolicy.DropNewest;
            })
            .AddEventHandler<Reading, ReadingHandlerA>()
            .AddEventHandler<Reading, ReadingHandlerB>()
            .AddEventHandler<Other, OtherHandler>()
            .ConfigureSubscription<ReadingHandlerA>(o =>
            {
                o.Capacity = 10;
                o.Mode = DeliveryMode.Queue;
            }));

        bus.Snapshot<ReadingHandlerA>().Should().Match<SubscriptionSnapshot>(s =>
            s.Capacity == 10 && s.FullPolicy == FullPolicy.DropNewest && s.Mode == DeliveryMode.Queue && s.Workers == 3);
        bus.Snapshot<ReadingHandlerB>().Should().Match<SubscriptionSnapshot>(s =>
            s.Capacity == 50 && s.FullPolicy == FullPolicy.DropNewest && s.Mode == DeliveryMode.Broadcast && s.Workers == 1);
        bus.Snapshot<OtherHandler>().Should().Match<SubscriptionSnapshot>(s =>
            s.Capacity == 100 && s.FullPolicy == FullPolicy.FailFast && s.Mode == DeliveryMode.Broadcast && s.Workers == 1);
    }

    [Fact]
    public async Task AckModeManual_OnASubscription_IsRejectedNamingTheGroupsOnlyMode()
    {
        await using var bus = TestBus.Build(b => b
            .AddEventHandler<Reading, ReadingHandlerA>()
            .ConfigureSubscription<ReadingHandlerA>(o => o.AckMode = AckMode.Manual));

        var resolve = () => bus.Bus;

        resolve.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>().Which.Failures.Should().ContainSingle()
            .Which.Should().Be($"SubscriptionOptions.AckMode of subscription '{typeof(ReadingHandlerA).FullName}' must be AfterHandling or BeforeHandling (Manual is for consumer groups: a subscription acknowledges when its handler returns); it is Manual.");
    }

    [Fact]
    public async Task GetSnapshot_OrderedByTopicThenSubscription()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Reading, ReadingHandlerB>()
            .AddEventHandler<Other, OtherHandler>()
            .AddEventHandler<Reading, ReadingHandlerA>());

        bus.Control.GetSnapshot().Select(s => (s.Topic, s.Subscription)).Should().Equal(
            (typeof(Other).FullName!, typeof(OtherHandler).FullName!),
            (typeof(Reading).FullName!, typeof(ReadingHandlerA).FullName!),
            (typeof(Reading).FullName!, typeof(ReadingHandlerB).FullName!));
    }

    public sealed record Reading(int N);

    public sealed record Other(int N);

    public sealed class ReadingHandlerA : IEventHandler<Reading>
    {
        public ValueTask HandleAsync(Reading @event, MessageContext context, CancellationToken cancellationToken) => default;
    }

    public sealed class ReadingHandlerB : IEventHandler<Reading>
    {
        public ValueTask HandleAsync(Reading @event, MessageContext context, CancellationToken cancellationToken) => default;
    }

    public sealed class OtherHandler : IEventHandler<Other>
    {
        public ValueTask HandleAsync(Other @event, MessageContext context, CancellationToken cancellationToken) => default;
    }
}
