using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Delivery;

/// <summary><see cref="IEventBus.PublishBatchAsync{TEvent}"/>: all-or-nothing, contiguous and in order in every subscription.</summary>
public sealed class BatchPublishTests
{
    private const int Capacity = 4;

    [Fact]
    public async Task PublishBatchAsync_ConcurrentBatchPublishers_EachBatchDeliveredInOrderAndContiguously()
    {
        const int Publishers = 3, Batches = 100, BatchSize = 20, Total = Publishers * Batches * BatchSize;
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Part, PartHandler<FirstTag>>()
            .AddEventHandler<Part, PartHandler<SecondTag>>());

        await Task.WhenAll(Enumerable.Range(0, Publishers).Select(p => Task.Run(async () =>
        {
            for (var batch = 0; batch < Batches; batch++)
            {
                await bus.Bus.PublishBatchAsync(Enumerable.Range(0, BatchSize).Select(i => new Part(p, batch, i)).ToArray());
            }
        }))).Within();

        var seenA = await bus.Log<PartHandler<FirstTag>, Part>().WaitForCountAsync(Total);
        var seenB = await bus.Log<PartHandler<SecondTag>, Part>().WaitForCountAsync(Total);

        seenA.Should().HaveCount(Total);
        for (var start = 0; start < Total; start += BatchSize)
        {
            var run = seenA.Skip(start).Take(BatchSize).ToList();
            run.Should().Equal(Enumerable.Range(0, BatchSize).Select(i => run[0] with { Index = i }), "the batch at position {0} is contiguous and in order", start);
        }

        seenA.GroupBy(p => (p.Publisher, p.Batch)).Should().HaveCount(Publishers * Batches);
        seenB.Should().Equal(seenA, "every subscription of a topic sees the same order");
    }

    [Fact]
    public async Task PublishBatchAsync_BatchLargerThanWaitCapacity_ThrowsArgumentExceptionAndDeliversNone()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Part, PartHandler<FirstTag>>()
            .ConfigureSubscription<PartHandler<FirstTag>>(o => o.Capacity = Capacity));

        var publish = async () => await bus.Bus.PublishBatchAsync(Parts(0, Capacity + 1));

        (await publish.Should().ThrowExactlyAsync<ArgumentException>()).Which.Message.Should().Contain($"capacity is {Capacity}");
        await bus.Bus.PublishAsync(new Part(9, 9, 9));
        (await bus.Log<PartHandler<FirstTag>, Part>().WaitForCountAsync(1)).Should().Equal(new Part(9, 9, 9));
    }

    [Fact]
    public async Task PublishBatchAsync_BatchEqualToCapacity_IsDelivered()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Part, PartHandler<FirstTag>>()
            .ConfigureSubscription<PartHandler<FirstTag>>(o => o.Capacity = Capacity));

        await bus.Bus.PublishBatchAsync(Parts(0, Capacity)).AsTask().Within();

        (await bus.Log<PartHandler<FirstTag>, Part>().WaitForCountAsync(Capacity)).Should().Equal(Parts(0, Capacity));
    }

    [Fact]
    public async Task PublishBatchAsync_FailFastWithoutRoomForWholeBatch_ThrowsBufferFullExceptionAndDeliversNone()
    {
        await using var bus = await StartGatedAsync(FullPolicy.FailFast);
        await ParkAndBufferAsync(bus, buffered: 2); // room for 2 more

        var publish = async () => await bus.Bus.PublishBatchAsync(Parts(10, 3));

        await publish.Should().ThrowAsync<BufferFullException>();
        bus.Snapshot<GatedPartHandler>().Depth.Should().Be(2);
        await ReleaseAndExpectAsync(bus, Parts(0, 3));
    }

    [Fact]
    public async Task PublishBatchAsync_CancelledWhileWaitingForRoom_ThrowsAndDeliversNone()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait);
        await ParkAndBufferAsync(bus, buffered: 3); // room for 1 more
        using var cancellation = new CancellationTokenSource();

        var waiting = bus.Bus.PublishBatchAsync(Parts(10, 3), cancellationToken: cancellation.Token).AsTask();
        waiting.IsCompleted.Should().BeFalse("the batch needs room for all 3 events");
        await cancellation.CancelAsync();

        await waiting.Awaiting(t => t.Within()).Should().ThrowAsync<OperationCanceledException>();
        await ReleaseAndExpectAsync(bus, Parts(0, 4));
    }

    [Fact]
    public async Task PublishBatchAsync_WaitingForRoom_DeliversWholeBatchOnceThereIsRoom()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait);
        await ParkAndBufferAsync(bus, buffered: 3);

        var waiting = bus.Bus.PublishBatchAsync(Parts(10, 3)).AsTask();
        waiting.IsCompleted.Should().BeFalse();
        bus.Get<Gate<GatedPartHandler>>().Open();

        await waiting.Within();
        (await bus.Log<GatedPartHandler, Part>().WaitForCountAsync(7)).Should().Equal(Parts(0, 4).Concat(Parts(10, 3)));
        (await bus.Log<PartHandler<SecondTag>, Part>().WaitForCountAsync(7)).Should().Equal(Parts(0, 4).Concat(Parts(10, 3)));
    }

    [Fact]
    public async Task PublishBatchAsync_EmptyBatch_CompletesAndDeliversNothing()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Part, PartHandler<FirstTag>>());

        bus.Bus.PublishBatchAsync(Array.Empty<Part>()).IsCompletedSuccessfully.Should().BeTrue();

        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<PartHandler<FirstTag>, Part>().Count.Should().Be(0);
    }

    private static Part[] Parts(int from, int count) => Enumerable.Range(from, count).Select(i => new Part(0, 0, i)).ToArray();

    /// <summary>A gated subscription (capacity 4, <paramref name="policy"/>) next to an ungated one with room.</summary>
    private static Task<TestBus> StartGatedAsync(FullPolicy policy) =>
        TestBus.StartAsync(b => b
            .AddEventHandler<Part, GatedPartHandler>()
            .AddEventHandler<Part, PartHandler<SecondTag>>()
            .ConfigureSubscription<GatedPartHandler>(o =>
            {
                o.Capacity = Capacity;
                o.FullPolicy = policy;
            }));

    /// <summary>Part 0 in flight in the gated handler, parts 1..<paramref name="buffered"/> in its buffer.</summary>
    private static async Task ParkAndBufferAsync(TestBus bus, int buffered)
    {
        await bus.Bus.PublishAsync(new Part(0, 0, 0));
        await bus.Log<GatedPartHandler, string>().WaitForCountAsync(1);
        await bus.Bus.PublishBatchAsync(Parts(1, buffered)).AsTask().Within();
    }

    /// <summary>Opens the gate, publishes a marker, and checks that both subscriptions saw exactly <paramref name="expected"/> before it.</summary>
    private static async Task ReleaseAndExpectAsync(TestBus bus, Part[] expected)
    {
        bus.Get<Gate<GatedPartHandler>>().Open();
        await bus.Log<GatedPartHandler, Part>().WaitForCountAsync(expected.Length); // drained, so a FailFast marker has room
        var marker = new Part(9, 9, 9);
        await bus.Bus.PublishAsync(marker);
        (await bus.Log<GatedPartHandler, Part>().WaitForCountAsync(expected.Length + 1)).Should().Equal(expected.Append(marker));
        (await bus.Log<PartHandler<SecondTag>, Part>().WaitForCountAsync(expected.Length + 1)).Should().Equal(expected.Append(marker), "a batch reaches every subscription or none");
    }

    public sealed record Part(int Publisher, int Batch, int Index);

    /// <summary>Records what it handles; each <typeparamref name="TTag"/> is a handler type of its own, hence a subscription of its own.</summary>
    public sealed class PartHandler<TTag>(Recorder<PartHandler<TTag>, Part> log) : IEventHandler<Part>
    {
        public ValueTask HandleAsync(Part @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event);
            return default;
        }
    }

    public sealed class FirstTag;

    public sealed class SecondTag;

    public sealed class GatedPartHandler(Gate<GatedPartHandler> gate, Recorder<GatedPartHandler, string> started, Recorder<GatedPartHandler, Part> handled) : IEventHandler<Part>
    {
        public async ValueTask HandleAsync(Part @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add($"started {@event}");
            await gate.WaitAsync(cancellationToken);
            handled.Add(@event);
        }
    }
}
