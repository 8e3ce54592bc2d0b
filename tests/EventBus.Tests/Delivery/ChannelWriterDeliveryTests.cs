using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Delivery;

/// <summary>
/// The delivery contract with every event published through <see cref="IEventBus.AsChannelWriter{TEvent}(PublishOptions?)"/>
/// (broadcast subscriptions): a write is a publish, so everything the contract promises of a publish holds for a write.
/// </summary>
public sealed class ChannelWriterDeliveryTests : DeliveryContractTests
{
    protected override DeliveryMode Mode => DeliveryMode.Broadcast;

    protected override int Workers => 1;

    protected override void ConfigureMode<THandler>(EventBusBuilder builder)
    {
    }

    protected override ValueTask PublishAsync(TestBus bus, Item item) => bus.Bus.AsChannelWriter<Item>().WriteAsync(item);
}
