using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Delivery;

[CollectionDefinition(nameof(ConcurrencyCollection), DisableParallelization = true)]
public sealed class ConcurrencyCollection;

/// <summary>
/// Exactly-once and ordering under contention: 4 publishers x 50,000 events. Runs alone (its own non-parallel collection) so that
/// its load does not starve the timing-free but signal-waiting tests of other classes.
/// </summary>
[Collection(nameof(ConcurrencyCollection))]
public sealed class ConcurrentPublishTests
{
    private const int Publishers = 4;
    private const int PerPublisher = 50_000;
    private const int Total = Publishers * PerPublisher;

    [Fact]
    public async Task PublishAsync_FourPublishersToQueueWithFourWorkers_EveryEventHandledExactlyOnce()
    {
        var tally = new Tally();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Stamped, TallyHandler>(ServiceLifetime.Singleton)
                .ConfigureSubscription<TallyHandler>(o =>
                {
                    o.Mode = DeliveryMode.Queue;
                    o.Workers = 4;
                }),
            s => s.AddSingleton(tally));

        await PublishConcurrentlyAsync(bus.Bus);
        await tally.AllHandled.Within();
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        // Read after the drain: nothing can be handled any more, so a duplicate would show as a 2 (and its total above 200,000).
        tally.Handled.Should().Be(Total);
        var counts = tally.Counts;
        var wrong = Enumerable.Range(0, Total).Where(i => counts[i] != 1).Take(10).Select(i => $"({i / PerPublisher}, {i % PerPublisher}) x{counts[i]}").ToList();
        wrong.Should().BeEmpty("every (publisher, seq) is handled exactly once");
        var snapshot = bus.Snapshot<TallyHandler>();
        snapshot.Succeeded.Should().Be(Total);
        snapshot.Failed.Should().Be(0);
        snapshot.Dropped.Should().Be(0);
    }

    [Fact]
    public async Task PublishAsync_FourPublishersToThreeBroadcastSubscribers_EachSeesAllInPublisherOrderAndTheSameTotalOrder()
    {
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Stamped, OrderHandlerA>(ServiceLifetime.Singleton)
                .AddEventHandler<Stamped, OrderHandlerB>(ServiceLifetime.Singleton)
                .AddEventHandler<Stamped, OrderHandlerC>(ServiceLifetime.Singleton),
            s => s.AddSingleton(typeof(OrderLog<>)));
        OrderLog[] logs = [bus.Get<OrderLog<OrderHandlerA>>(), bus.Get<OrderLog<OrderHandlerB>>(), bus.Get<OrderLog<OrderHandlerC>>()];

        await PublishConcurrentlyAsync(bus.Bus);
        foreach (var log in logs)
        {
            await log.AllHandled.Within();
        }

        (await bus.Control.StopAsync()).Drained.Should().BeTrue();

        foreach (var log in logs)
        {
            var order = log.Order;
            order.Should().HaveCount(Total, "{0} sees every event once", log.Name);
            FirstOutOfPublisherOrder(order).Should().BeNull("{0} sees each publisher's events in that publisher's order", log.Name);
        }

        FirstDifference(logs[0].Order, logs[1].Order).Should().Be(-1, "all broadcast subscribers of a topic see the same total order");
        FirstDifference(logs[0].Order, logs[2].Order).Should().Be(-1, "all broadcast subscribers of a topic see the same total order");
    }

    private static async Task PublishConcurrentlyAsync(IEventBus bus)
    {
        // The publishers start on dedicated threads and wait at a barrier so that they really contend (blocking pool threads
        // at a barrier would instead starve the bus's workers on a 2-core machine).
        using var start = new Barrier(Publishers);
        var publishers = Enumerable.Range(0, Publishers).Select(p => Task.Factory.StartNew(
            async () =>
            {
                start.SignalAndWait(Wait.Timeout);
                for (var seq = 0; seq < PerPublisher; seq++)
                {
                    await bus.PublishAsync(new Stamped(p, seq));
                }
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning,
            TaskScheduler.Default).Unwrap()).ToArray();
        await Task.WhenAll(publishers).Within();
    }

    private static string? FirstOutOfPublisherOrder(long[] order)
    {
        var next = new int[Publishers];
        for (var i = 0; i < order.Length; i++)
        {
            var (publisher, seq) = Stamped.Decode(order[i]);
            if (seq != next[publisher])
            {
                return $"position {i}: publisher {publisher} seq {seq}, expected seq {next[publisher]}";
            }

            next[publisher]++;
        }

        return null;
    }

    private static int FirstDifference(long[] left, long[] right)
    {
        for (var i = 0; i < Math.Min(left.Length, right.Length); i++)
        {
            if (left[i] != right[i])
            {
                return i;
            }
        }

        return left.Length == right.Length ? -1 : Math.Min(left.Length, right.Length);
    }

    public sealed record Stamped(int Publisher, int Seq)
    {
        public long Encoded => ((long)Publisher << 32) | (uint)Seq;

        public static (int Publisher, int Seq) Decode(long value) => ((int)(value >> 32), (int)(value & 0xFFFF_FFFF));
    }

    /// <summary>One slot per (publisher, seq), counted with interlocked increments by the competing workers.</summary>
    public sealed class Tally
    {
        private readonly int[] _counts = new int[Total];
        private readonly TaskCompletionSource _allHandled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _total;

        public Task AllHandled => _allHandled.Task;

        public int Handled => Volatile.Read(ref _total);

        public int[] Counts => [.. _counts];

        public void Count(Stamped stamped)
        {
            Interlocked.Increment(ref _counts[(stamped.Publisher * PerPublisher) + stamped.Seq]);
            if (Interlocked.Increment(ref _total) == Total)
            {
                _allHandled.TrySetResult();
            }
        }
    }

    public sealed class TallyHandler(Tally tally) : IEventHandler<Stamped>
    {
        public ValueTask HandleAsync(Stamped @event, MessageContext context, CancellationToken cancellationToken)
        {
            tally.Count(@event);
            return default;
        }
    }

    /// <summary>The order one broadcast subscriber saw; written only by its single worker, read after <see cref="AllHandled"/>.</summary>
    public abstract class OrderLog
    {
        private readonly List<long> _order = new(Total);
        private readonly TaskCompletionSource _allHandled = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public abstract string Name { get; }

        public Task AllHandled => _allHandled.Task;

        public long[] Order
        {
            get
            {
                lock (_order)
                {
                    return [.. _order];
                }
            }
        }

        public void Add(Stamped stamped)
        {
            lock (_order)
            {
                _order.Add(stamped.Encoded);
                if (_order.Count == Total)
                {
                    _allHandled.TrySetResult();
                }
            }
        }
    }

    public sealed class OrderLog<THandler> : OrderLog
    {
        public override string Name => typeof(THandler).Name;
    }

    public sealed class OrderHandlerA(OrderLog<OrderHandlerA> log) : IEventHandler<Stamped>
    {
        public ValueTask HandleAsync(Stamped @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event);
            return default;
        }
    }

    public sealed class OrderHandlerB(OrderLog<OrderHandlerB> log) : IEventHandler<Stamped>
    {
        public ValueTask HandleAsync(Stamped @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event);
            return default;
        }
    }

    public sealed class OrderHandlerC(OrderLog<OrderHandlerC> log) : IEventHandler<Stamped>
    {
        public ValueTask HandleAsync(Stamped @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event);
            return default;
        }
    }
}
