using System.Diagnostics;
using System.Runtime.CompilerServices;
using FluentAssertions;
using Xunit;

namespace EventBus.Tests.Delivery;

/// <summary>
/// A buffer entry keeps what the publisher stamped in one cache line; the delivery's own values (subscription, settlement) are
/// added by the worker, and a redelivery's count and first failure travel beside the publisher's options.
/// </summary>
public sealed class EnvelopeTests
{
    private static readonly MessageId Id = MessageId.NewId(new DateTimeOffset(2026, 12, 8, 10, 0, 0, TimeSpan.Zero));

    [Fact]
    public void FirstDelivery_KeepsWhatThePublisherStamped_In64Bytes()
    {
        var options = new PublishOptions { CorrelationId = "corr-1", PartitionKey = "account-7" };
        using var trace = new Activity("publish");
        var message = new object();
        var published = new MessageContext(Id, "Orders.Placed", 638_000_000_000_000_000, options, trace, offsetPlusOne: 42);

        var envelope = new Envelope(message, published);

        envelope.Message.Should().BeSameAs(message);
        envelope.DeliveryCount.Should().Be(1);
        envelope.FirstFailureTicks.Should().Be(0);
        envelope.PartitionKey.Should().Be("account-7");
        var context = envelope.Context;
        context.MessageId.Should().Be(Id);
        context.MessageType.Should().Be("Orders.Placed");
        context.TimestampTicks.Should().Be(638_000_000_000_000_000);
        context.Extras.Should().BeSameAs(options);
        context.Trace.Should().BeSameAs(trace);
        context.OffsetPlusOne.Should().Be(42);
        context.DeliveryCount.Should().Be(1);
        context.Subscription.Should().BeNull();
        context.Settlement.Should().BeNull();
        Unsafe.SizeOf<Envelope>().Should().Be(64);
    }

    [Fact]
    public void Redelivery_KeepsItsCountFirstFailureAndThePublishersOptions()
    {
        var options = new PublishOptions { CausationId = "cause-1", PartitionKey = "account-9" };
        var delivered = new MessageContext(Id, "Orders.Placed", 638_000_000_000_000_000, options, trace: null, subscription: "billing", deliveryCount: 1, settlement: new Settlement(), settlementVersion: 3, offsetPlusOne: 0);

        var envelope = new Envelope("payload", delivered.WithDeliveryCount(4), firstFailureTicks: 638_000_000_100_000_000);

        envelope.DeliveryCount.Should().Be(4);
        envelope.FirstFailureTicks.Should().Be(638_000_000_100_000_000);
        envelope.PartitionKey.Should().Be("account-9");
        var context = envelope.Context;
        context.DeliveryCount.Should().Be(4);
        context.Extras.Should().BeSameAs(options);
        context.CausationId.Should().Be("cause-1");
        context.MessageId.Should().Be(Id);
        context.Offset.Should().BeNull();

        // The worker that takes it again sets its own subscription and settlement.
        context.Subscription.Should().BeNull();
        context.Settlement.Should().BeNull();
    }

    [Fact]
    public void DefaultEntry_ReadsAsAnEmptyFirstDelivery()
    {
        var envelope = default(Envelope);

        envelope.DeliveryCount.Should().Be(1);
        envelope.FirstFailureTicks.Should().Be(0);
        envelope.PartitionKey.Should().BeNull();
        envelope.Context.Extras.Should().BeNull();
    }
}
