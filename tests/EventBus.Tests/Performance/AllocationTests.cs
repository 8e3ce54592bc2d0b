using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Performance;

[CollectionDefinition(nameof(AllocationCollection), DisableParallelization = true)]
public sealed class AllocationCollection;

/// <summary>
/// Proves the steady-state publish/deliver path allocates nothing per event with singleton handlers (the event objects themselves
/// are preallocated). Measured with the process-wide allocation counter, in a non-parallel collection, after a warm-up; the test
/// thread waits by spinning on the handlers' counter, which allocates nothing either.
/// </summary>
/// <remarks>
/// The counter is process-wide, and the test host serialises results (Newtonsoft.Json) on its own threads now and then, so each
/// test measures five rounds and keeps the smallest. Every chunk of 512 lets the workers go idle, so the idle/wake-up path is
/// measured too (for competing workers it parks them on reusable signals: see <c>IdleWorkers</c>).
/// </remarks>
[Collection(nameof(AllocationCollection))]
public sealed class AllocationTests
{
    private const int Events = 102_400;

    [Fact]
    public Task PublishAsync_OneSingletonHandler_AllocatesNothingPerEvent() =>
        AssertNoAllocationPerEvent(handlers: 1, chunk: 512, configure: static b => b.AddEventHandler<AllocEvent, CountingHandler<First>>(ServiceLifetime.Singleton));

    [Fact]
    public Task PublishAsync_BroadcastToFourSingletonHandlers_AllocatesNothingPerEvent() =>
        AssertNoAllocationPerEvent(handlers: 4, chunk: 512, configure: static b => b
            .AddEventHandler<AllocEvent, CountingHandler<First>>(ServiceLifetime.Singleton)
            .AddEventHandler<AllocEvent, CountingHandler<Second>>(ServiceLifetime.Singleton)
            .AddEventHandler<AllocEvent, CountingHandler<Third>>(ServiceLifetime.Singleton)
            .AddEventHandler<AllocEvent, CountingHandler<Fourth>>(ServiceLifetime.Singleton));

    [Fact]
    public Task PublishAsync_FourCompetingWorkers_AllocatesNothingPerEvent() =>
        AssertNoAllocationPerEvent(handlers: 1, chunk: 512, configure: static b => b
            .AddEventHandler<AllocEvent, CountingHandler<First>>(ServiceLifetime.Singleton)
            .ConfigureSubscription<CountingHandler<First>>(o => { o.Mode = DeliveryMode.Queue; o.Workers = 4; }));

    [Fact]
    public Task PublishAsync_StreamWithOneGroup_AllocatesNothingPerEvent() =>
        AssertNoAllocationPerEvent(handlers: 1, chunk: 512, configure: static b => b
            .AddStreamGroup<AllocEvent, CountingHandler<First>>("one", lifetime: ServiceLifetime.Singleton));

    [Fact]
    public Task PublishAsync_StreamWithFourGroups_AllocatesNothingPerEvent() =>
        AssertNoAllocationPerEvent(handlers: 4, chunk: 512, configure: static b => b
            .AddStreamGroup<AllocEvent, CountingHandler<First>>("first", lifetime: ServiceLifetime.Singleton)
            .AddStreamGroup<AllocEvent, CountingHandler<Second>>("second", lifetime: ServiceLifetime.Singleton)
            .AddStreamGroup<AllocEvent, CountingHandler<Third>>("third", lifetime: ServiceLifetime.Singleton)
            .AddStreamGroup<AllocEvent, CountingHandler<Fourth>>("fourth", lifetime: ServiceLifetime.Singleton));

    [Fact]
    public Task PublishAsync_StreamWithKeyOrderedGroup_AllocatesNothingPerEvent() =>
        AssertNoAllocationPerEvent(handlers: 1, chunk: 512, configure: static b => b
            .AddStreamGroup<AllocEvent, CountingHandler<First>>("keyed", o => o.Workers = 4, ServiceLifetime.Singleton));

    [Fact]
    public Task PublishBatchAsync_StreamWithOneGroup_AllocatesNothingPerEvent() =>
        AssertNoAllocationPerEvent(handlers: 1, chunk: 512, batch: true, configure: static b => b
            .AddStreamGroup<AllocEvent, CountingHandler<First>>("batched", lifetime: ServiceLifetime.Singleton));

    [Fact]
    public Task PublishBatchAsync_OneSingletonHandler_AllocatesNothingPerEvent() =>
        AssertNoAllocationPerEvent(handlers: 1, chunk: 512, batch: true, configure: static b => b.AddEventHandler<AllocEvent, CountingHandler<First>>(ServiceLifetime.Singleton));

    [Fact]
    public Task ChannelWriterWriteAsync_OneSingletonHandler_AllocatesNothingPerEvent() =>
        AssertNoAllocationPerEvent(handlers: 1, chunk: 512, throughWriter: true, configure: static b => b.AddEventHandler<AllocEvent, CountingHandler<First>>(ServiceLifetime.Singleton));

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task SendAsync_SingletonCommandHandler_AllocatesNothingPerRoundTrip(bool stampInlineSends)
    {
        var bytes = await MeasureRoundTripsAsync(new AllocCommand(41), static services => services.GetRequiredService<ICommandBus>().SendAsync, stampInlineSends);
        (bytes / RoundTrips).Should().Be(0, $"the bus allocated {bytes} bytes for {RoundTrips} inline sends in the best of five rounds");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task TypedSender_StructCommand_AllocatesNothingPerRoundTrip(bool stampInlineSends)
    {
        // A typed sender takes the command as its own type: a struct command is not boxed on the way to its handler.
        var bytes = await MeasureRoundTripsAsync(new AllocStructCommand(41), static services => services.GetRequiredService<ICommandSender<AllocStructCommand, int>>().SendAsync, stampInlineSends);
        (bytes / RoundTrips).Should().Be(0, $"the bus allocated {bytes} bytes for {RoundTrips} typed sends of a struct command in the best of five rounds");
    }

    [Fact]
    public async Task SendQueuedAsync_SingletonCommandHandler_AllocatesOneSmallReplyPerRoundTrip()
    {
        var bytes = await MeasureRoundTripsAsync(new AllocCommand(41), static services => services.GetRequiredService<ICommandSender<AllocCommand, int>>().SendQueuedAsync);

        // The reply the sender awaits (a completion core, the staged result, the sender's options and its cancellation
        // registration): one object, 120 bytes for an int result.
        ((double)bytes / RoundTrips).Should().BeInRange(1, 128, $"the bus allocated {bytes} bytes for {RoundTrips} queued sends in the best of five rounds");
    }

    private const int RoundTrips = 20_000;

    /// <summary>How a test sends: a method bound once, given the command, envelope values (none here) and a token.</summary>
    private delegate ValueTask<CommandResult<int>> Send<in TCommand>(TCommand command, PublishOptions? options, CancellationToken cancellationToken);

    /// <summary>The fewest bytes allocated, over five rounds after a warm-up, by <see cref="RoundTrips"/> awaited round trips in sequence.</summary>
    private static async Task<long> MeasureRoundTripsAsync<TCommand>(TCommand command, Func<IServiceProvider, Send<TCommand>> bind, bool stampInlineSends = true)
    {
        var services = new ServiceCollection();
        services.AddEventBus(b => b
            .Configure(o => o.StampInlineSends = stampInlineSends)
            .AddCommandHandler<AllocCommand, int, AllocCommandHandler>(ServiceLifetime.Singleton)
            .AddCommandHandler<AllocStructCommand, int, AllocCommandHandler>(ServiceLifetime.Singleton));
        await using var provider = services.BuildServiceProvider();
        var control = provider.GetRequiredService<IEventBusControl>();
        var send = bind(provider);
        await control.StartAsync();
        await RoundTripsAsync(command, send, RoundTrips);

        var smallest = await FewestBytesAsync(() => RoundTripsAsync(command, send, RoundTrips));
        (await control.StopAsync()).Drained.Should().BeTrue();
        return smallest;

        static async ValueTask RoundTripsAsync(TCommand command, Send<TCommand> send, int count)
        {
            for (var i = 0; i < count; i++)
            {
                if ((await send(command, null, CancellationToken.None)).Value != 42)
                {
                    throw new InvalidOperationException("The handler returns 42.");
                }
            }
        }
    }

    private static async Task AssertNoAllocationPerEvent(int handlers, int chunk, Action<EventBusBuilder> configure, bool batch = false, bool throughWriter = false)
    {
        var counter = new DeliveryCounter();
        var services = new ServiceCollection().AddSingleton(counter);
        services.AddEventBus(configure);
        await using var provider = services.BuildServiceProvider();
        var control = provider.GetRequiredService<IEventBusControl>();
        var bus = provider.GetRequiredService<IEventBus>();
        var writer = throughWriter ? bus.AsChannelWriter<AllocEvent>() : null;
        var events = Enumerable.Range(0, chunk).Select(i => new AllocEvent(i)).ToArray();

        // Warm-up. Filling every buffer to its capacity before start grows the channels' internal segments to their final size
        // once (a one-time cost, bounded by the capacity); the chunks then warm up JIT tiering.
        // (A stream's groups join when the bus starts, so there is nothing to fill before: its segments are reused from the start.)
        var capacity = control.GetSnapshot() is [var first, ..] ? first.Capacity : 0;
        for (var i = 0; i < capacity; i++)
        {
            await bus.PublishAsync(events[i % chunk]);
        }

        await control.StartAsync();
        counter.WaitFor((long)capacity * handlers);
        await PublishChunks(bus, writer, events, counter, handlers, chunks: Math.Max(4, 20_000 / chunk), batch);

        var smallest = await FewestBytesAsync(() => PublishChunks(bus, writer, events, counter, handlers, chunks: Events / chunk, batch));
        (await control.StopAsync()).Drained.Should().BeTrue();
        (smallest / Events).Should().Be(0, $"the bus allocated {smallest} bytes for {Events} events ({(double)smallest / Events:F3} B/event) in the best of five rounds");
    }

    /// <summary>The fewest bytes the process allocated during one of five runs of <paramref name="round"/> (the counter is process-wide: see the remarks).</summary>
    private static async Task<long> FewestBytesAsync(Func<ValueTask> round)
    {
        var smallest = long.MaxValue;
        for (var i = 0; i < 5; i++)
        {
            var before = GC.GetTotalAllocatedBytes(precise: true);
            await round();
            smallest = Math.Min(smallest, GC.GetTotalAllocatedBytes(precise: true) - before);
        }

        return smallest;
    }

    /// <summary>Publishes <paramref name="chunks"/> times every event of <paramref name="events"/> (through <paramref name="writer"/> when given), waiting after each chunk until it is handled.</summary>
    private static async ValueTask PublishChunks(IEventBus bus, ChannelWriter<AllocEvent>? writer, AllocEvent[] events, DeliveryCounter counter, int handlers, int chunks, bool batch)
    {
        for (var c = 0; c < chunks; c++)
        {
            var target = counter.Count + ((long)events.Length * handlers);
            if (batch)
            {
                await bus.PublishBatchAsync(events); // one batch per chunk
            }
            else if (writer is not null)
            {
                foreach (var e in events)
                {
                    await writer.WriteAsync(e);
                }
            }
            else
            {
                foreach (var e in events)
                {
                    await bus.PublishAsync(e);
                }
            }

            counter.WaitFor(target);
        }
    }

    public sealed record AllocEvent(int N);

    public sealed record AllocCommand(int Value) : ICommand<int>;

    public readonly record struct AllocStructCommand(int Value) : ICommand<int>;

    public sealed class AllocCommandHandler : ICommandHandler<AllocCommand, int>, ICommandHandler<AllocStructCommand, int>
    {
        public ValueTask<CommandResult<int>> HandleAsync(AllocCommand command, MessageContext context, CancellationToken cancellationToken) =>
            ValueTask.FromResult<CommandResult<int>>(command.Value + 1);

        public ValueTask<CommandResult<int>> HandleAsync(AllocStructCommand command, MessageContext context, CancellationToken cancellationToken) =>
            ValueTask.FromResult<CommandResult<int>>(command.Value + 1);
    }

    public sealed class DeliveryCounter
    {
        private long _count;

        public long Count => Interlocked.Read(ref _count);

        public void Increment() => Interlocked.Increment(ref _count);

        public void WaitFor(long target)
        {
            var timeout = Stopwatch.StartNew();
            var spin = new SpinWait();
            while (Count < target)
            {
                if (timeout.Elapsed > TimeSpan.FromSeconds(30))
                {
                    throw new TimeoutException($"Only {Count} of {target} deliveries happened within 30 s.");
                }

                spin.SpinOnce();
            }
        }
    }

    /// <summary>A counting handler; each <typeparamref name="TTag"/> makes a distinct handler type, hence its own subscription.</summary>
    public sealed class CountingHandler<TTag>(DeliveryCounter counter) : IEventHandler<AllocEvent>
    {
        public ValueTask HandleAsync(AllocEvent @event, MessageContext context, CancellationToken cancellationToken)
        {
            counter.Increment();
            return ValueTask.CompletedTask;
        }
    }

    public sealed class First;

    public sealed class Second;

    public sealed class Third;

    public sealed class Fourth;
}
