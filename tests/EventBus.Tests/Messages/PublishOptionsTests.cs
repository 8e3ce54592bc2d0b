using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Messages;

/// <summary><see cref="PublishOptions.CausedBy"/>: messages published while handling one carry the flow's correlation and point back at their cause.</summary>
public sealed class PublishOptionsTests
{
    [Fact]
    public void CausedBy_CauseWithCorrelation_KeepsCorrelationAndPointsAtTheCause()
    {
        var causeId = MessageId.NewId(TimeProvider.System);
        var cause = new MessageContext(causeId, "OrderPlaced", DateTimeOffset.UtcNow, "flow-1", null, null, null);

        var options = PublishOptions.CausedBy(cause);

        options.CorrelationId.Should().Be("flow-1");
        options.CausationId.Should().Be(causeId.ToString());
        options.Headers.Should().BeNull();
        options.PartitionKey.Should().BeNull();
    }

    [Fact]
    public void CausedBy_CauseWithoutCorrelation_StartsTheCorrelationFromTheCausesId()
    {
        var causeId = MessageId.NewId(TimeProvider.System);
        var cause = new MessageContext(causeId, "OrderPlaced", DateTimeOffset.UtcNow, null, null, null, null);

        var options = PublishOptions.CausedBy(cause);

        options.CorrelationId.Should().Be(causeId.ToString());
        options.CausationId.Should().Be(causeId.ToString());
    }

    [Fact]
    public async Task CausedBy_InsideAHandler_FollowUpEventsLinkBackToTheirCause()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<OrderPlaced, OrderPlacedHandler>()
            .AddEventHandler<InvoiceRequested, InvoiceRequestedHandler>());

        await bus.Bus.PublishAsync(new OrderPlaced(1), new PublishOptions { CorrelationId = "checkout-7" });
        await bus.Bus.PublishAsync(new OrderPlaced(2));

        var causes = await bus.Log<OrderPlacedHandler, MessageContext>().WaitForCountAsync(2);
        var followUps = await bus.Log<InvoiceRequestedHandler, (int Order, MessageContext Context)>().WaitForCountAsync(2);
        var first = followUps.Single(f => f.Order == 1).Context;
        var second = followUps.Single(f => f.Order == 2).Context;
        first.CorrelationId.Should().Be("checkout-7");
        first.CausationId.Should().Be(causes[0].MessageId.ToString());
        second.CorrelationId.Should().Be(causes[1].MessageId.ToString(), "a flow without a correlation starts one from its first message");
        second.CausationId.Should().Be(causes[1].MessageId.ToString());
        first.MessageId.Should().BeGreaterThan(causes[0].MessageId);
    }

    public sealed record OrderPlaced(int Order);

    public sealed record InvoiceRequested(int Order);

    public sealed class OrderPlacedHandler(IEventBus bus, Recorder<OrderPlacedHandler, MessageContext> log) : IEventHandler<OrderPlaced>
    {
        public ValueTask HandleAsync(OrderPlaced @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(context);
            return bus.PublishAsync(new InvoiceRequested(@event.Order), PublishOptions.CausedBy(context), cancellationToken);
        }
    }

    public sealed class InvoiceRequestedHandler(Recorder<InvoiceRequestedHandler, (int Order, MessageContext Context)> log) : IEventHandler<InvoiceRequested>
    {
        public ValueTask HandleAsync(InvoiceRequested @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add((@event.Order, context));
            return default;
        }
    }
}
