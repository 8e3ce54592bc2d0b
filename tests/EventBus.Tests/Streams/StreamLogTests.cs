using EventBus.Tests.Storage;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Streams;

/// <summary>The log itself: dense offsets on every envelope, contiguous batches, replay, and the errors of a topic that is not a stream.</summary>
public abstract class StreamLogTests
{
    /// <summary>Gets the registration of the stream storage the tests run against (<see cref="StreamStorages"/>).</summary>
    protected abstract Action<IServiceCollection> Storage { get; }

    [Fact]
    public async Task Publish_StreamTopic_EverySubscriptionEnvelopeCarriesItsDenseOffset()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddStream<Reading>()
            .AddEventHandler<Reading, OffsetRecorder>(ServiceLifetime.Singleton), Storage);
        await bus.PublishReadingsAsync(0, 50);

        var recorder = bus.Services.GetRequiredService<OffsetRecorder>();
        await recorder.Log.WaitForCountAsync(50);
        recorder.Log.Offsets.Should().Equal(Enumerable.Range(0, 50).Select(i => (long)i));
        bus.Streams().GetStreamInfo<Reading>().NextOffset.Should().Be(50);
    }

    [Fact]
    public async Task Publish_TopicThatIsNotAStream_HasNoOffset()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Reading, OffsetRecorder>(ServiceLifetime.Singleton), Storage);
        await bus.PublishReadingsAsync(0, 3);

        var recorder = bus.Services.GetRequiredService<OffsetRecorder>();
        await recorder.Log.WaitForCountAsync(3);
        recorder.Log.Offsets.Should().Equal(-1, -1, -1);
    }

    [Fact]
    public async Task PublishBatch_ConcurrentBatches_EachBatchIsAppendedContiguously()
    {
        const int Batches = 40, Size = 25;
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10_000), Storage);
        await Task.WhenAll(Enumerable.Range(0, Batches).Select(batch => Task.Run(async () =>
            await bus.Bus.PublishBatchAsync(Enumerable.Range(batch * Size, Size).Select(i => new Reading(i)).ToList()))));

        var events = await ReadAllAsync(bus, StreamPosition.First);
        events.Select(e => e.Offset).Should().Equal(Enumerable.Range(0, Batches * Size).Select(i => (long)i), "offsets are dense");
        foreach (var chunk in events.Chunk(Size))
        {
            chunk.Select(e => e.Event.Number).Should().Equal(Enumerable.Range(chunk[0].Event.Number, Size), "a batch occupies consecutive offsets");
            (chunk[0].Event.Number % Size).Should().Be(0);
        }
    }

    [Fact]
    public async Task ReadAsync_FromEachPosition_YieldsTheRetainedEventsFromThere()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000), Storage);
        await bus.PublishReadingsAsync(0, 10);

        (await ReadAllAsync(bus, StreamPosition.First)).Select(e => e.Offset).Should().Equal(0, 1, 2, 3, 4, 5, 6, 7, 8, 9);
        (await ReadAllAsync(bus, StreamPosition.Last)).Select(e => e.Offset).Should().Equal(9);
        (await ReadAllAsync(bus, StreamPosition.Next)).Should().BeEmpty();
        (await ReadAllAsync(bus, StreamPosition.AtOffset(7))).Select(e => e.Event.Number).Should().Equal(7, 8, 9);
        (await ReadAllAsync(bus, StreamPosition.AtOffset(70))).Should().BeEmpty("an offset beyond the head means the next event");
    }

    [Fact]
    public async Task ReadAsync_Replay_EndsAtTheHeadAsOfTheCallAndAffectsNoGroup()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000), Storage);
        await bus.PublishReadingsAsync(0, 5);
        var live = new GroupLog();
        await using var group = await bus.SubscribeAsync("live", live, o => o.StartPosition = StreamPosition.First);
        await live.WaitForCountAsync(5);

        var read = new List<long>();
        await foreach (var e in bus.Streams().ReadAsync<Reading>(StreamPosition.First))
        {
            read.Add(e.Offset);
            if (e.Offset == 0)
            {
                await bus.PublishReadingsAsync(5, 3); // published during the replay: after its end
            }
        }

        read.Should().Equal(0, 1, 2, 3, 4);
        await live.WaitForCountAsync(8);
        group.GetSnapshot().CommittedOffset.Should().Be(8, "the replay committed nothing and moved no group");
    }

    [Fact]
    public async Task ReadAsync_Follow_DeliversLaterEventsUntilCancelled()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 1000), Storage);
        await bus.PublishReadingsAsync(0, 2);
        using var cancel = new CancellationTokenSource();
        var seen = new List<int>();
        var reading = Task.Run(async () =>
        {
            try
            {
                await foreach (var e in bus.Streams().ReadAsync<Reading>(StreamPosition.First, follow: true, cancel.Token))
                {
                    seen.Add(e.Event.Number);
                    if (e.Event.Number == 1)
                    {
                        await bus.PublishReadingsAsync(2, 3);
                    }

                    if (e.Event.Number == 4)
                    {
                        await cancel.CancelAsync();
                    }
                }
            }
            catch (OperationCanceledException)
            {
            }
        });

        await reading.Within();
        seen.Should().Equal(0, 1, 2, 3, 4);
    }

    [Fact]
    public async Task ReadAsync_FollowWhileIdle_EndsWhenCancelled()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(), Storage);
        using var cancel = new CancellationTokenSource();
        var reading = Task.Run(async () =>
        {
            await foreach (var unused in bus.Streams().ReadAsync<Reading>(StreamPosition.Next, follow: true, cancel.Token))
            {
            }
        });

        await cancel.CancelAsync();
        await reading.Invoking(r => r.Within()).Should().ThrowAsync<OperationCanceledException>();
    }

    [Fact]
    public async Task StreamApi_EventTypeThatIsNotAStream_ThrowsNamingTheFix()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Reading, OffsetRecorder>(), Storage);

        bus.Streams().Invoking(s => s.ReadAsync<Reading>(StreamPosition.First)).Should().Throw<InvalidOperationException>().WithMessage("*is not a stream*AddStream<Reading>()*");
        await bus.Streams().Invoking(s => s.SubscribeAsync<Reading>("g", (_, _, _) => default).AsTask()).Should().ThrowAsync<InvalidOperationException>().WithMessage("*is not a stream*");
        bus.Streams().Invoking(s => s.GetStreamInfo<Reading>()).Should().Throw<InvalidOperationException>();
    }

    [Fact]
    public void AddStream_InterfaceOrCommand_IsRejectedAtRegistration()
    {
        var services = new ServiceCollection();
        services.Invoking(s => s.AddEventBus(b => b.AddStream<IComparable>())).Should().Throw<ArgumentException>().WithMessage("*concrete event type*");
        services.Invoking(s => s.AddEventBus(b => b.AddStream<StreamCommand>())).Should().Throw<ArgumentException>().WithMessage("*cannot be a stream*");
    }

    [Fact]
    public async Task AddStream_InvalidRetention_FailsAtBuildListingEachProblem()
    {
        await using var bus = TestBus.Build(b => b.AddStream<Reading>(o =>
        {
            o.MaxCount = 0;
            o.MaxAge = TimeSpan.Zero;
        }), Storage);

        bus.Invoking(b => b.Bus).Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>()
            .Which.Failures.Should().BeEquivalentTo(
                $"StreamOptions.MaxCount of stream '{typeof(Reading).FullName}' must be between 1 and 1073741824; it is 0.",
                $"StreamOptions.MaxAge of stream '{typeof(Reading).FullName}' must be between 00:00:00.001 and 3650.00:00:00; it is 00:00:00.");
    }

    internal static async Task<List<StreamEvent<Reading>>> ReadAllAsync(TestBus bus, StreamPosition from)
    {
        var events = new List<StreamEvent<Reading>>();
        await foreach (var e in bus.Streams().ReadAsync<Reading>(from))
        {
            events.Add(e);
        }

        return events;
    }

    public sealed record StreamCommand : ICommand;

    public sealed class OffsetRecorder : IEventHandler<Reading>
    {
        public GroupLog Log { get; } = new();

        public ValueTask HandleAsync(Reading message, MessageContext context, CancellationToken cancellationToken) => Log.Record(message, context);
    }

    /// <summary>The tests on the in-memory segmented storage, every stream's default.</summary>
    public sealed class OnSegmentedStorage : StreamLogTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.Segmented;
    }

    /// <summary>The tests on the tests' second storage (<see cref="ListStreamStorage"/>).</summary>
    public sealed class OnListStorage : StreamLogTests
    {
        protected override Action<IServiceCollection> Storage => StreamStorages.List;
    }
}
