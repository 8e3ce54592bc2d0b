using System.Threading.Channels;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace EventBus.Tests.Delivery;

/// <summary>
/// Pull subscriptions (<see cref="EventBusBuilder.AddPullSubscription{TEvent}(string, Action{SubscriptionOptions}?)"/>) read through
/// <see cref="IEventBus.GetReader{TEvent}(string)"/>: what a reader gets, backpressure, competing readers, the stop and bad input.
/// Unread events stay in the subscription's buffer, so buffer states here are exact without gating anything.
/// </summary>
public sealed class PullSubscriptionTests
{
    private const string Name = "readings";
    private const int Capacity = 4;

    [Fact]
    public async Task GetReader_OneReader_ReadsEveryEventInPublishOrderWithItsEnvelope()
    {
        const int Events = 1_000;
        await using var bus = await StartAsync();
        var reader = bus.Bus.GetReader<Reading>(Name);

        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new Reading(i), new PublishOptions { CorrelationId = "flow-1" });
        }

        var read = await ReadAsync(reader, Events);
        read.Select(r => r.Event.N).Should().Equal(Enumerable.Range(0, Events));
        read.Should().AllSatisfy(r =>
        {
            r.Context.Subscription.Should().Be(Name);
            r.Context.MessageType.Should().Be(typeof(Reading).FullName);
            r.Context.CorrelationId.Should().Be("flow-1");
            r.Context.DeliveryCount.Should().Be(1);
            r.Offset.Should().Be(-1, "the topic is not a stream");
        });
        read.Select(r => r.Context.MessageId).Should().OnlyHaveUniqueItems();
        reader.TryRead(out _).Should().BeFalse();
        bus.Bus.GetReader<Reading>(Name).Should().BeSameAs(reader);
    }

    [Fact]
    public async Task PublishAsync_ReaderFallsBehindWithWaitPolicy_PublisherWaitsUntilARead()
    {
        await using var bus = await StartAsync(o => o.Capacity = Capacity);
        var reader = bus.Bus.GetReader<Reading>(Name);
        await FillAsync(bus);

        var fifth = bus.Bus.PublishAsync(new Reading(Capacity)).AsTask();

        fifth.IsCompleted.Should().BeFalse("the reader read nothing: the subscription's buffer is full");
        reader.Count.Should().Be(Capacity);
        reader.TryRead(out var first).Should().BeTrue();
        first.Event.N.Should().Be(0);
        await fifth.Within();
        (await ReadAsync(reader, Capacity)).Select(r => r.Event.N).Should().Equal(1, 2, 3, 4);
    }

    [Fact]
    public async Task PublishAsync_ReaderFallsBehindWithFailFast_ThrowsBufferFullExceptionNamingThePullSubscription()
    {
        await using var bus = await StartAsync(o =>
        {
            o.Capacity = Capacity;
            o.FullPolicy = FullPolicy.FailFast;
        });
        await FillAsync(bus);

        var publish = async () => await bus.Bus.PublishAsync(new Reading(Capacity));

        var thrown = await publish.Should().ThrowAsync<BufferFullException>();
        thrown.Which.Subscription.Should().Be(Name);
        thrown.Which.Topic.Should().Be(typeof(Reading).FullName);
        (await ReadAsync(bus.Bus.GetReader<Reading>(Name), Capacity)).Select(r => r.Event.N).Should().Equal(0, 1, 2, 3);
    }

    [Theory]
    [InlineData(FullPolicy.DropNewest, new[] { 0, 1, 2, 3 }, new[] { 4, 5 })]
    [InlineData(FullPolicy.DropOldest, new[] { 2, 3, 4, 5 }, new[] { 0, 1 })]
    public async Task PublishAsync_ReaderFallsBehindWithDropPolicy_DropsCountsAndReports(FullPolicy policy, int[] kept, int[] dropped)
    {
        await using var bus = await StartAsync(o =>
        {
            o.Capacity = Capacity;
            o.FullPolicy = policy;
        });
        await FillAsync(bus);

        for (var i = Capacity; i < Capacity + 2; i++)
        {
            bus.Bus.PublishAsync(new Reading(i)).IsCompletedSuccessfully.Should().BeTrue("a drop policy never makes the publisher wait");
        }

        (await ReadAsync(bus.Bus.GetReader<Reading>(Name), Capacity)).Select(r => r.Event.N).Should().Equal(kept);
        Snapshot<Reading>(bus).Dropped.Should().Be(2);
        bus.Undelivered.Items.Select(u => ((Reading)u.Message).N).Should().Equal(dropped);
        bus.Undelivered.Items.Should().OnlyContain(u => u.Subscription == Name && u.Reason == (policy == FullPolicy.DropNewest ? UndeliveredReason.DroppedNewest : UndeliveredReason.DroppedOldest));
    }

    [Fact]
    public async Task GetReader_CompetingReaders_EachEventReadByExactlyOneInTopicOrder()
    {
        const int Publishers = 2, PerPublisher = 5_000, Readers = 4;
        await using var bus = await StartAsync(o => o.Capacity = 64);
        var reader = bus.Bus.GetReader<Entry>(Name);

        var readers = Enumerable.Range(0, Readers).Select(_ => Task.Run(() => ReadUntilCompletedAsync(reader))).ToArray();
        var publishers = Enumerable.Range(0, Publishers).Select(p => Task.Run(async () =>
        {
            for (var seq = 0; seq < PerPublisher; seq++)
            {
                await bus.Bus.PublishAsync(new Entry(p, seq));
            }
        })).ToArray();
        await Task.WhenAll(publishers).Within();
        var report = await bus.Control.StopAsync();
        var reads = await Task.WhenAll(readers).Within();

        report.Drained.Should().BeTrue("the stop waited for the readers to read everything");
        var all = reads.SelectMany(r => r).OrderBy(e => e.Publisher).ThenBy(e => e.Seq).ToList();
        all.Should().Equal(
            Enumerable.Range(0, Publishers).SelectMany(p => Enumerable.Range(0, PerPublisher).Select(seq => new Entry(p, seq))),
            "each event goes to exactly one reader: none is missing, none is read twice");
        foreach (var own in reads)
        {
            foreach (var publisher in own.GroupBy(e => e.Publisher))
            {
                publisher.Select(e => e.Seq).Should().BeInAscendingOrder("a reader takes its events in the topic's order");
            }
        }

        var snapshot = Snapshot<Entry>(bus);
        snapshot.Delivered.Should().Be(Publishers * PerPublisher);
        snapshot.Succeeded.Should().Be(Publishers * PerPublisher);
        snapshot.Depth.Should().Be(0);
    }

    [Fact]
    public async Task PublishBatchAsync_ConcurrentPublishers_EachBatchReachesTheReaderContiguouslyAndInOrder()
    {
        const int Publishers = 3, Batches = 200, BatchSize = 8;
        await using var bus = await StartAsync(o => o.Capacity = 32);
        var reader = bus.Bus.GetReader<Entry>(Name);

        var reading = Task.Run(() => ReadUntilCompletedAsync(reader));
        var publishers = Enumerable.Range(0, Publishers).Select(p => Task.Run(async () =>
        {
            for (var b = 0; b < Batches; b++)
            {
                await bus.Bus.PublishBatchAsync(Enumerable.Range(b * BatchSize, BatchSize).Select(seq => new Entry(p, seq)).ToArray());
            }
        })).ToArray();
        await Task.WhenAll(publishers).Within();
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        var read = await reading.Within();

        read.Should().HaveCount(Publishers * Batches * BatchSize);
        for (var i = 0; i < read.Count; i += BatchSize)
        {
            var batch = read.Skip(i).Take(BatchSize).ToList();
            batch.Select(e => e.Publisher).Distinct().Should().ContainSingle("a batch is written contiguously: nothing comes between its events");
            batch.Select(e => e.Seq).Should().Equal(Enumerable.Range(batch[0].Seq, BatchSize));
            (batch[0].Seq % BatchSize).Should().Be(0);
        }

        foreach (var publisher in read.GroupBy(e => e.Publisher))
        {
            publisher.Select(e => e.Seq).Should().Equal(Enumerable.Range(0, Batches * BatchSize), "one publisher's batches arrive in its order");
        }
    }

    [Fact]
    public async Task Completion_BusStops_CompletesOnceTheReadersDrainedTheBuffer()
    {
        await using var bus = await StartAsync();
        var reader = bus.Bus.GetReader<Reading>(Name);
        await FillAsync(bus, 3);

        var stopping = bus.Control.StopAsync();

        stopping.IsCompleted.Should().BeFalse("the stop waits for the readers to read what is buffered, as it waits for handlers");
        reader.Completion.IsCompleted.Should().BeFalse("three events are unread");
        (await ReadUntilCompletedAsync(reader).Within()).Select(r => r.N).Should().Equal(0, 1, 2);
        var report = await stopping.Within();
        report.Drained.Should().BeTrue();
        report.Unfinished.Should().BeEmpty();
        reader.Completion.IsCompletedSuccessfully.Should().BeTrue();
        (await reader.WaitToReadAsync()).Should().BeFalse();
        var publish = async () => await bus.Bus.PublishAsync(new Reading(9));
        await publish.Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public async Task StopAsync_TimeoutExpiresWithUnreadEvents_ReportsThemNotStartedAndCompletesTheReader()
    {
        await using var bus = await StartAsync(configureBus: o => o.StopTimeout = TimeSpan.FromMilliseconds(100));
        var reader = bus.Bus.GetReader<Reading>(Name);
        await FillAsync(bus, 3);
        reader.TryRead(out var read).Should().BeTrue();

        var report = await bus.Control.StopAsync();

        read.Event.N.Should().Be(0);
        report.Drained.Should().BeFalse();
        report.Unfinished.Select(u => ((Reading)u.Message).N).Should().Equal(1, 2);
        report.Unfinished.Should().OnlyContain(u => u.Reason == UndeliveredReason.NotStartedBeforeStop && u.Subscription == Name && u.Topic == typeof(Reading).FullName);
        bus.Undelivered.Items.Should().BeEquivalentTo(report.Unfinished);
        await reader.Completion.Within();
        reader.TryRead(out _).Should().BeFalse("what the stop reported is no longer readable");
        Snapshot<Reading>(bus).Should().Match<SubscriptionSnapshot>(s => s.Delivered == 1 && s.Depth == 0 && s.State == SubscriptionState.Stopped);
    }

    [Fact]
    public async Task DisposeAsync_WithoutStop_ReportsUnreadEventsNotStarted()
    {
        var bus = await StartAsync();
        var reader = bus.Bus.GetReader<Reading>(Name);
        var undelivered = bus.Undelivered;
        await FillAsync(bus, 2);

        await bus.DisposeAsync();

        undelivered.Items.Select(u => ((Reading)u.Message).N).Should().Equal(0, 1);
        undelivered.Items.Should().OnlyContain(u => u.Reason == UndeliveredReason.NotStartedBeforeStop && u.Subscription == Name);
        await reader.Completion.Within();
    }

    [Fact]
    public async Task ReadAsync_ReaderWaitsOnAnEmptyBuffer_WakesForEachSingleEvent()
    {
        await using var bus = await StartAsync();
        var reader = bus.Bus.GetReader<Reading>(Name);

        for (var round = 0; round < 5; round++)
        {
            var waiting = reader.ReadAsync().AsTask();
            waiting.IsCompleted.Should().BeFalse();

            await bus.Bus.PublishAsync(new Reading(round));

            (await waiting.Within(Wait.Promptly)).Event.N.Should().Be(round);
        }
    }

    [Fact]
    public async Task ReadAsync_TwoWaitingReadersOneCancelled_TheOtherGetsTheNextEvent()
    {
        await using var bus = await StartAsync();
        var reader = bus.Bus.GetReader<Reading>(Name);
        using var cancellation = new CancellationTokenSource();

        var cancelled = reader.ReadAsync(cancellation.Token).AsTask();
        var other = reader.ReadAsync().AsTask();
        await cancellation.CancelAsync();
        await cancelled.Awaiting(t => t.Within()).Should().ThrowAsync<OperationCanceledException>();
        await bus.Bus.PublishAsync(new Reading(7));

        (await other.Within()).Event.N.Should().Be(7);
        Snapshot<Reading>(bus).Delivered.Should().Be(1);
    }

    [Fact]
    public async Task GetReader_BeforeTheBusStarts_ReadsWhatWasPublished()
    {
        await using var bus = TestBus.Build(b => b.AddPullSubscription<Reading>(Name));
        var reader = bus.Bus.GetReader<Reading>(Name);

        await bus.Bus.PublishAsync(new Reading(1));

        reader.TryRead(out var read).Should().BeTrue();
        read.Event.N.Should().Be(1);
    }

    [Fact]
    public async Task GetReader_StreamTopic_EventsCarryTheirOffsets()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>().AddPullSubscription<Reading>(Name));
        var reader = bus.Bus.GetReader<Reading>(Name);

        for (var i = 0; i < 3; i++)
        {
            await bus.Bus.PublishAsync(new Reading(i));
        }

        (await ReadAsync(reader, 3)).Select(r => (r.Event.N, r.Offset)).Should().Equal((0, 0L), (1, 1L), (2, 2L));
    }

    [Fact]
    public async Task GetReader_BesideAHandler_BothReceiveEveryEvent()
    {
        const int Events = 500;
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Reading, ReadingHandler>().AddPullSubscription<Reading>(Name));
        var reader = bus.Bus.GetReader<Reading>(Name);

        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new Reading(i));
        }

        (await ReadAsync(reader, Events)).Select(r => r.Event.N).Should().Equal(Enumerable.Range(0, Events));
        (await bus.Log<ReadingHandler, int>().WaitForCountAsync(Events)).Should().Equal(Enumerable.Range(0, Events));
    }

    [Fact]
    public async Task HostStopAsync_ReaderServiceRegisteredBeforeTheBus_ReadsEveryEventBeforeTheBusStops()
    {
        const int Events = 200;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        TestBus.AddTestServices(builder.Services, out var undelivered);

        // Registered first, stopped last: the bus stops first and waits for this reader to drain the buffer.
        builder.Services.AddHostedService<DrainingReader>();
        builder.Services.AddEventBus(b => b
            .Configure(o => o.OnUndelivered = undelivered.Add)
            .AddPullSubscription<Reading>(Name, o => o.Capacity = 16));
        using var host = builder.Build();
        await host.StartAsync().Within();
        var bus = host.Services.GetRequiredService<IEventBus>();

        for (var i = 0; i < Events; i++)
        {
            await bus.PublishAsync(new Reading(i));
        }

        await host.StopAsync().Within();

        host.Services.GetRequiredService<Recorder<DrainingReader, int>>().Items.Should().Equal(Enumerable.Range(0, Events));
        undelivered.Items.Should().BeEmpty();
        (await host.Services.GetRequiredService<IEventBusControl>().StopAsync()).Drained.Should().BeTrue();
    }

    [Fact]
    public async Task GetReader_UnknownName_ThrowsArgumentExceptionNamingTheSubscriptionAndTheTopic()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddPullSubscription<Reading>(Name)
            .AddPullSubscription<Reading>("audit")
            .AddEventHandler<Entry, EntryHandler>());

        bus.Bus.Invoking(b => b.GetReader<Reading>("nope")).Should().Throw<ArgumentException>().WithParameterName("name")
            .WithMessage($"No pull subscription named 'nope' is registered on the topic '{typeof(Reading).FullName}'*AddPullSubscription<Reading>(\"nope\")*'readings'*'audit'*");
        bus.Bus.Invoking(b => b.GetReader<Entry>(Name)).Should().Throw<ArgumentException>()
            .WithMessage($"No pull subscription named '{Name}' is registered on the topic '{typeof(Entry).FullName}'*the topic has no pull subscription.*");
        bus.Bus.Invoking(b => b.GetReader<Unregistered>(Name)).Should().Throw<ArgumentException>().WithMessage($"*'{typeof(Unregistered).FullName}'*");
        bus.Bus.Invoking(b => b.GetReader<Reading>(" ")).Should().Throw<ArgumentException>().WithParameterName("name");
    }

    [Fact]
    public void AddPullSubscription_BadTypeOrDuplicateName_ThrowsArgumentException()
    {
        var build = (Action<EventBusBuilder> configure) => () => TestBus.CreateServices(configure, null, out _);

        build(b => b.AddPullSubscription<Ping>(Name)).Should().Throw<ArgumentException>().WithMessage("*cannot have a pull subscription*");
        build(b => b.AddPullSubscription<IReading>(Name)).Should().Throw<ArgumentException>().WithMessage("*cannot have a pull subscription*");
        build(b => b.AddPullSubscription<Reading>(Name).AddPullSubscription<Reading>(Name)).Should().Throw<ArgumentException>()
            .WithParameterName("name").WithMessage("*'readings' is already registered*");
        build(b => b.AddPullSubscription<Reading>(Name).AddPullSubscription<Entry>(Name)).Should().NotThrow("names are unique per topic");
    }

    [Fact]
    public async Task AddPullSubscription_HandlerOptionsSet_FailsAtStartNamingEachOption()
    {
        await using var bus = TestBus.Build(b => b.AddPullSubscription<Reading>(Name, o =>
        {
            o.Workers = 2;
            o.AckMode = AckMode.AfterHandling;
            o.Capacity = 0;
        }));

        var resolve = () => bus.Bus;

        var failures = resolve.Should().Throw<OptionsValidationException>().Which.Failures;
        failures.Should().HaveCount(3);
        failures.Should().ContainSingle(f => f.StartsWith("SubscriptionOptions.Workers of pull subscription 'readings' on topic", StringComparison.Ordinal))
            .Which.Should().Contain("has no handler");
        failures.Should().ContainSingle(f => f.StartsWith("SubscriptionOptions.AckMode of pull subscription", StringComparison.Ordinal));
        failures.Should().ContainSingle(f => f.StartsWith("SubscriptionOptions.Capacity of pull subscription", StringComparison.Ordinal)).Which.Should().Contain("it is 0");
    }

    [Fact]
    public async Task AddPullSubscription_NamedLikeAHandlerSubscription_FailsAtStart()
    {
        await using var bus = TestBus.Build(b => b.AddEventHandler<Reading, ReadingHandler>().AddPullSubscription<Reading>(typeof(ReadingHandler).FullName!));

        var resolve = () => bus.Bus;

        resolve.Should().Throw<EventBusConfigurationException>().Which.Problems.Should().ContainSingle()
            .Which.Should().Contain("has the name of a handler subscription");
    }

    [Fact]
    public async Task GetSnapshotAndTopology_PullSubscription_DescribeItsBufferReadsAndReader()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddTopic<Reading>(o =>
            {
                o.Capacity = 7;
                o.FullPolicy = FullPolicy.FailFast;
                o.Mode = DeliveryMode.Queue; // a handler default: a pull subscription takes only the capacity and full policy
                o.Workers = 3;
            })
            .AddPullSubscription<Reading>(Name));
        await FillAsync(bus, 3);
        bus.Bus.GetReader<Reading>(Name).TryRead(out _).Should().BeTrue();

        Snapshot<Reading>(bus).Should().Match<SubscriptionSnapshot>(s =>
            s.Mode == DeliveryMode.Queue && s.Workers == 0 && s.Capacity == 7 && s.FullPolicy == FullPolicy.FailFast
            && s.Depth == 2 && s.InFlight == 0 && s.Delivered == 1 && s.Succeeded == 1 && s.State == SubscriptionState.Running);
        var description = bus.Control.DescribeTopology().Topics.Single(t => t.MessageType == typeof(Reading)).Subscriptions.Single();
        description.Should().Match<SubscriptionDescription>(d =>
            d.Name == Name && d.HandlerType == typeof(ChannelReader<StreamEvent<Reading>>) && d.AckMode == AckMode.BeforeHandling && d.MaxDeliveries == 1);
        bus.Control.DescribeTopology().ToMermaid().Should().Contain("-->|pull|").And.Contain("readings (reader)");
    }

    private static Task<TestBus> StartAsync(Action<SubscriptionOptions>? configure = null, Action<EventBusOptions>? configureBus = null) =>
        TestBus.StartAsync(b =>
        {
            b.AddPullSubscription<Reading>(Name, configure).AddPullSubscription<Entry>(Name, configure);
            if (configureBus is not null)
            {
                b.Configure(configureBus);
            }
        });

    /// <summary>The snapshot of the pull subscription <see cref="Name"/> on the topic of <typeparamref name="TEvent"/>.</summary>
    private static SubscriptionSnapshot Snapshot<TEvent>(TestBus bus) =>
        bus.Control.GetSnapshot().Single(s => s.Topic == typeof(TEvent).FullName && s.Subscription == Name);

    /// <summary>Publishes readings 0 to <paramref name="count"/> - 1, each accepted at once (the buffer has room for them).</summary>
    private static async Task FillAsync(TestBus bus, int count = Capacity)
    {
        for (var i = 0; i < count; i++)
        {
            var publish = bus.Bus.PublishAsync(new Reading(i));
            publish.IsCompletedSuccessfully.Should().BeTrue("there is room for event {0}", i);
            await publish;
        }
    }

    /// <summary>Reads exactly <paramref name="count"/> events.</summary>
    private static async Task<List<StreamEvent<T>>> ReadAsync<T>(ChannelReader<StreamEvent<T>> reader, int count)
    {
        var read = new List<StreamEvent<T>>(count);
        while (read.Count < count)
        {
            read.Add(await reader.ReadAsync().AsTask().Within());
        }

        return read;
    }

    /// <summary>The loop of a consumer that reads until the reader completes (the bus stopped and the buffer is drained).</summary>
    private static async Task<List<T>> ReadUntilCompletedAsync<T>(ChannelReader<StreamEvent<T>> reader)
    {
        var read = new List<T>();
        await foreach (var item in reader.ReadAllAsync())
        {
            read.Add(item.Event);
        }

        return read;
    }

    public interface IReading;

    public sealed record Reading(int N) : IReading;

    public sealed record Entry(int Publisher, int Seq);

    public sealed record Unregistered;

    public sealed record Ping : ICommand;

    public sealed class ReadingHandler(Recorder<ReadingHandler, int> handled) : IEventHandler<Reading>
    {
        public ValueTask HandleAsync(Reading @event, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add(@event.N);
            return default;
        }
    }

    /// <summary>The documented background consumer: reads until the reader completes, with no token of its own.</summary>
    public sealed class DrainingReader(IEventBus events, Recorder<DrainingReader, int> read) : BackgroundService
    {
        protected override async Task ExecuteAsync(CancellationToken stoppingToken)
        {
            await foreach (var item in events.GetReader<Reading>(Name).ReadAllAsync())
            {
                read.Add(item.Event.N);
            }
        }
    }

    public sealed class EntryHandler : IEventHandler<Entry>
    {
        public ValueTask HandleAsync(Entry @event, MessageContext context, CancellationToken cancellationToken) => default;
    }
}
