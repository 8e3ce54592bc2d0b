using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Streams;

public sealed class StreamSmokeTests
{
    [Fact]
    public async Task Group_FromFirst_ReadsEveryEventInOffsetOrder()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10_000));
        await bus.PublishReadingsAsync(0, 100);
        var log = new GroupLog();
        await using var group = await bus.SubscribeAsync("g", log, o => o.StartPosition = StreamPosition.First);
        await bus.PublishReadingsAsync(100, 100);
        await log.WaitForCountAsync(200);
        log.Offsets.Should().Equal(Enumerable.Range(0, 200).Select(i => (long)i));
        log.Numbers.Should().Equal(Enumerable.Range(0, 200));
    }
}
