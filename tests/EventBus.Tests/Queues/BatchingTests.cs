using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Queues;

public sealed class BatchingTests
{
    [Fact]
    public async Task BatchHandler_1000Events_ReceivesThemInOrderInBatchesOfAtMostTheSize()
    {
        await using var bus = TestBus.Build(b => b.AddBatchEventHandler<Reading, ReadingBatchHandler>(100, TimeSpan.Zero));
        for (var n = 0; n < 1000; n++)
        {
            await bus.Bus.PublishAsync(new Reading(n));
        }

        await bus.Control.StartAsync(); // everything is buffered: the worker takes full batches
        var batches = bus.Get<Recorder<ReadingBatchHandler, int[]>>();
        await Wait.UntilAsync(() => batches.Items.Sum(b => b.Length) == 1000, "all 1000 readings are handled");

        batches.Items.Should().HaveCount(10).And.OnlyContain(b => b.Length == 100);
        batches.Items.SelectMany(b => b).Should().Equal(Enumerable.Range(0, 1000));
        bus.Snapshot<ReadingBatchHandler>().Succeeded.Should().Be(1000);
    }

    [Fact]
    public async Task BatchHandler_MaxWait_WaitsForTheBatchToFillOnTheFakeClock()
    {
        var time = new FakeTimeProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.AddBatchEventHandler<Reading, ReadingBatchHandler>(10, TimeSpan.FromSeconds(1)),
            s => s.AddSingleton<TimeProvider>(time));
        var batches = bus.Get<Recorder<ReadingBatchHandler, int[]>>();

        for (var n = 0; n < 3; n++)
        {
            await bus.Bus.PublishAsync(new Reading(n));
        }

        for (var n = 3; n < 10; n++)
        {
            await bus.Bus.PublishAsync(new Reading(n));
        }

        // The clock never moved, so the worker can only have delivered a full batch.
        (await batches.WaitForCountAsync(1)).Single().Should().Equal(Enumerable.Range(0, 10));

        await bus.Bus.PublishAsync(new Reading(10));
        await FakeClock.AdvanceUntilAsync(time, TimeSpan.FromMilliseconds(500), () => batches.Count == 2);
        batches.Items[1].Should().Equal(10);
    }

    [Fact]
    public async Task BatchHandler_Fails_WholeBatchRetriedThenEveryMessageDeadLettered()
    {
        await using var bus = TestBus.Build(b => b
            .AddBatchEventHandler<Reading, FailingBatchHandler>(5, TimeSpan.Zero)
            .ConfigureSubscription<FailingBatchHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 }));
        for (var n = 0; n < 5; n++)
        {
            await bus.Bus.PublishAsync(new Reading(n));
        }

        await bus.Control.StartAsync();
        await bus.Undelivered.WaitForCountAsync(5);

        bus.Get<Recorder<FailingBatchHandler, (int Size, int DeliveryCount)>>().Items.Should().Equal((5, 1), (5, 2));
        var deadLetters = bus.Get<IDeadLetterQueue>().GetDeadLetters();
        deadLetters.Select(d => ((Reading)d.Message).N).Should().BeEquivalentTo(Enumerable.Range(0, 5));
        deadLetters.Should().OnlyContain(d => d.DeliveryCount == 2 && d.ExceptionMessage == "sensor offline");
    }

    [Fact]
    public async Task Batcher_FlushesFullBatchesAtOnceAndTheRestAfterTheLingerOnTheBusTimeProvider()
    {
        var time = new FakeTimeProvider();
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Reading, ReadingHandler>(), s => s.AddSingleton<TimeProvider>(time));
        var handled = bus.Get<Recorder<ReadingHandler, int>>();
        await using var batcher = bus.Bus.CreateBatcher<Reading>(10, TimeSpan.FromMilliseconds(50));

        for (var n = 0; n < 25; n++)
        {
            await batcher.AddAsync(new Reading(n));
        }

        await handled.WaitForCountAsync(20);
        await bus.WaitUntilIdleAsync();
        handled.Count.Should().Be(20, "the last 5 wait for the linger");

        time.Advance(TimeSpan.FromMilliseconds(50));
        await handled.WaitForCountAsync(25);
        handled.Items.Should().Equal(Enumerable.Range(0, 25));
    }

    [Fact]
    public async Task Batcher_Dispose_PublishesWhatIsLeft()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Reading, ReadingHandler>());
        var batcher = bus.Bus.CreateBatcher<Reading>(100, TimeSpan.FromHours(1));
        for (var n = 0; n < 7; n++)
        {
            await batcher.AddAsync(new Reading(n));
        }

        await batcher.DisposeAsync();

        (await bus.Get<Recorder<ReadingHandler, int>>().WaitForCountAsync(7)).Should().Equal(Enumerable.Range(0, 7));
        var act = async () => await batcher.AddAsync(new Reading(8));
        await act.Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public async Task Batcher_PublishCancelledWhileBusIsFull_KeepsTheEventsForTheNextFlush()
    {
        await using var bus = TestBus.Build(b => b
            .AddEventHandler<Reading, ReadingHandler>()
            .ConfigureSubscription<ReadingHandler>(o => o.Capacity = 4));
        await using var batcher = bus.Bus.CreateBatcher<Reading>(4, TimeSpan.FromHours(1));
        for (var n = 0; n < 4; n++)
        {
            await batcher.AddAsync(new Reading(n)); // the 4th fills the batch and publishes it into the (not started) bus
        }

        using var cancel = new CancellationTokenSource();
        for (var n = 4; n < 7; n++)
        {
            await batcher.AddAsync(new Reading(n));
        }

        var full = batcher.AddAsync(new Reading(7), cancel.Token).AsTask();
        await cancel.CancelAsync();
        await full.Invoking(t => t).Should().ThrowAsync<OperationCanceledException>();

        await bus.Control.StartAsync();
        await batcher.FlushAsync();
        (await bus.Get<Recorder<ReadingHandler, int>>().WaitForCountAsync(8)).Should().Equal(Enumerable.Range(0, 8));
    }

    [Fact]
    public async Task CreateBatcher_InvalidArguments_Throw()
    {
        await using var testBus = TestBus.Build(b => b.AddEventHandler<Reading, ReadingHandler>());
        var bus = testBus.Bus;

        FluentActions.Invoking(() => bus.CreateBatcher<Reading>(0, TimeSpan.FromSeconds(1))).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("maxBatchSize");
        FluentActions.Invoking(() => bus.CreateBatcher<Reading>(100_001, TimeSpan.FromSeconds(1))).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("maxBatchSize");
        FluentActions.Invoking(() => bus.CreateBatcher<Reading>(10, TimeSpan.Zero)).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("linger");
        FluentActions.Invoking(() => bus.CreateBatcher<Reading>(10, TimeSpan.FromHours(1) + TimeSpan.FromTicks(1))).Should().Throw<ArgumentOutOfRangeException>().WithParameterName("linger");
    }

    public sealed record Reading(int N);

    public sealed class ReadingHandler(Recorder<ReadingHandler, int> handled) : IEventHandler<Reading>
    {
        public ValueTask HandleAsync(Reading @event, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add(@event.N);
            return ValueTask.CompletedTask;
        }
    }

    public sealed class ReadingBatchHandler(Recorder<ReadingBatchHandler, int[]> batches) : IBatchEventHandler<Reading>
    {
        public ValueTask HandleAsync(IReadOnlyList<Reading> events, IReadOnlyList<MessageContext> contexts, CancellationToken cancellationToken)
        {
            contexts.Should().HaveCount(events.Count);
            batches.Add(events.Select(e => e.N).ToArray());
            return ValueTask.CompletedTask;
        }
    }

    public sealed class FailingBatchHandler(Recorder<FailingBatchHandler, (int Size, int DeliveryCount)> attempts) : IBatchEventHandler<Reading>
    {
        public ValueTask HandleAsync(IReadOnlyList<Reading> events, IReadOnlyList<MessageContext> contexts, CancellationToken cancellationToken)
        {
            attempts.Add((events.Count, contexts[0].DeliveryCount));
            throw new InvalidOperationException("sensor offline");
        }
    }
}
