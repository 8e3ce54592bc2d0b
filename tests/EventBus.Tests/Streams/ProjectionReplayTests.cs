using Microsoft.Extensions.DependencyInjection;
using EventBus.Tests.Storage;
using System.Collections.Concurrent;
using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Streams;

/// <summary>Rebuilding state: a projection built by replaying the stream equals the one a live group built.</summary>
public abstract class ProjectionReplayTests
{
    /// <summary>Gets the registration of the stream storage the tests run against (<see cref="StreamStorages"/>).</summary>
    protected abstract Action<IServiceCollection> Storage { get; }

    [Fact]
    public async Task ReplayFromFirst_EqualsTheLiveProjection()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 100_000), Storage);
        var live = new Totals();
        await using var group = await bus.Streams().SubscribeAsync<Reading>("totals", (r, _, _) =>
        {
            live.Apply(r);
            return default;
        }, o => o.StartPosition = StreamPosition.First);

        await Task.WhenAll(Enumerable.Range(0, 4).Select(p => Task.Run(() => bus.PublishReadingsAsync(p * 2500, 2500, i => $"meter-{i % 13}"))));
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == 10_000, "the live projection caught up");

        var rebuilt = new Totals();
        await foreach (var e in bus.Streams().ReadAsync<Reading>(StreamPosition.First))
        {
            rebuilt.Apply(e.Event);
        }

        rebuilt.Count.Should().Be(10_000);
        rebuilt.ByKey.Should().BeEquivalentTo(live.ByKey);
        rebuilt.LastByKey.Should().BeEquivalentTo(live.LastByKey, "the replay applies events in the same order the live group did");
    }

    /// <summary>A read model: per key, the sum of readings and the last one seen (order-sensitive).</summary>
    private sealed class Totals
    {
        public ConcurrentDictionary<string, long> ByKey { get; } = new();

        public ConcurrentDictionary<string, int> LastByKey { get; } = new();

        public int Count { get; private set; }

        public void Apply(Reading reading)
        {
            ByKey.AddOrUpdate(reading.Key!, reading.Number, (_, sum) => sum + reading.Number);
            LastByKey[reading.Key!] = reading.Number;
            Count++;
        }
    }

    /// <summary>The tests on the in-memory segmented storage, every stream's default.</summary>
    public sealed class OnSegmentedStorage : ProjectionReplayTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.Segmented;
    }

    /// <summary>The tests on the tests' second storage (<see cref="ListStreamStorage"/>).</summary>
    public sealed class OnListStorage : ProjectionReplayTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.List;
    }
}
