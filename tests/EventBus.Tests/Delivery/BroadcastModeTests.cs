using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Delivery;

/// <summary>The delivery contract in <see cref="DeliveryMode.Broadcast"/> mode (the default for events), plus its ordering promise.</summary>
public sealed class BroadcastModeTests : DeliveryContractTests
{
    protected override DeliveryMode Mode => DeliveryMode.Broadcast;

    protected override int Workers => 1;

    protected override void ConfigureMode<THandler>(EventBusBuilder builder)
    {
        // Broadcast is the default: configure nothing, so the test also proves the default.
    }

    [Fact]
    public async Task PublishAsync_OnePublisher_EverySubscriptionSeesPublishOrder()
    {
        const int Events = 5_000;
        await using var bus = await StartAsync(b => Subscribe<YieldingHandler>(Subscribe<ItemHandler<FirstTag>>(b)));

        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new Item(i));
        }

        (await bus.Log<ItemHandler<FirstTag>, int>().WaitForCountAsync(Events)).Should().Equal(Enumerable.Range(0, Events));
        (await bus.Log<YieldingHandler, int>().WaitForCountAsync(Events)).Should().Equal(Enumerable.Range(0, Events));
    }
}
