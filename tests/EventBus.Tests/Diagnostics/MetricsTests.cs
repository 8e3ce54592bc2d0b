using System.Diagnostics.Metrics;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Diagnostics;

/// <summary>
/// The bus's instruments, seen through a <see cref="MeterListener"/>: every counter and gauge with exact values, and one
/// histogram measurement per handler attempt.
/// </summary>
/// <remarks>
/// Each test's container registers <c>AddMetrics()</c>, so the bus creates its <see cref="Meter"/> from that container's
/// <see cref="IMeterFactory"/>; the listener enables only the instruments of that factory's meters (<see cref="Meter.Scope"/>),
/// so the tests can run in parallel with each other and with every other bus in the process. Counter figures are read after
/// <see cref="IEventBusControl.StopAsync"/>, which drains, so they are final.
/// </remarks>
public sealed class MetricsTests
{
    private static readonly string[] Counters =
    [
        EventBusTelemetry.PublishedMessages, EventBusTelemetry.DeliveredMessages, EventBusTelemetry.SucceededMessages, EventBusTelemetry.FailedMessages,
        EventBusTelemetry.RetriedMessages, EventBusTelemetry.DeadLetteredMessages, EventBusTelemetry.DroppedMessages,
    ];

    [Fact]
    public async Task Instruments_OfOneBus_NamesUnitsAndKindsFollowTheMessagingConventions()
    {
        await using var bus = Build(b => b.AddEventHandler<Tick, CountingHandler<FirstTag>>());
        using var metrics = new MetricCollector(bus.Services);

        await bus.Control.StartAsync();

        metrics.Instruments.Select(i => $"{i.Meter.Name} | {i.Name} | {i.Unit} | {i.GetType().Name}").Should().BeEquivalentTo(
            "EventBus | messaging.client.sent.messages | {message} | Counter`1",
            "EventBus | messaging.client.consumed.messages | {message} | Counter`1",
            "EventBus | eventbus.messages.succeeded | {message} | Counter`1",
            "EventBus | eventbus.messages.failed | {message} | Counter`1",
            "EventBus | eventbus.messages.retried | {message} | Counter`1",
            "EventBus | eventbus.messages.dead_lettered | {message} | Counter`1",
            "EventBus | eventbus.messages.dropped | {message} | Counter`1",
            "EventBus | eventbus.stream.skipped | {message} | Counter`1",
            "EventBus | messaging.process.duration | s | Histogram`1",
            "EventBus | eventbus.message.queue.duration | s | Histogram`1",
            "EventBus | eventbus.subscription.depth | {message} | ObservableGauge`1",
            "EventBus | eventbus.subscription.in_flight | {message} | ObservableGauge`1",
            "EventBus | eventbus.subscription.dead_letters | {message} | ObservableGauge`1",
            "EventBus | eventbus.stream.lag | {message} | ObservableGauge`1",
            "EventBus | eventbus.stream.retained | {message} | ObservableGauge`1");
        metrics.Instruments.Should().OnlyContain(i => i.Meter.Scope == bus.Get<IMeterFactory>(), "the meter comes from the container's factory");
    }

    [Fact]
    public async Task DurationHistograms_AdviseBucketsFromMicrosecondsToSeconds()
    {
        await using var bus = Build(b => b.AddEventHandler<Tick, CountingHandler<FirstTag>>());
        using var metrics = new MetricCollector(bus.Services);
        await bus.Control.StartAsync();

        foreach (var name in new[] { EventBusTelemetry.ProcessDuration, EventBusTelemetry.QueueDuration })
        {
            // OpenTelemetry's default boundaries suit milliseconds: read as seconds, every in-process duration would share one bucket.
            var histogram = metrics.Instruments.OfType<Histogram<double>>().Single(i => i.Name == name);
            var boundaries = histogram.Advice!.HistogramBucketBoundaries!;
            boundaries.Should().BeInAscendingOrder().And.OnlyHaveUniqueItems();
            boundaries[0].Should().BeLessThanOrEqualTo(0.00001, $"{name} resolves microseconds");
            boundaries[^1].Should().BeGreaterThanOrEqualTo(10, $"{name} resolves handlers that take seconds");
        }
    }

    [Fact]
    public async Task SentAndConsumed_FiveEventsToTwoSubscriptions_SentFiveForTheTopicConsumedAndSucceededFivePerSubscription()
    {
        await using var bus = Build(b => b
            .AddEventHandler<Tick, CountingHandler<FirstTag>>()
            .AddEventHandler<Tick, CountingHandler<SecondTag>>());
        using var metrics = new MetricCollector(bus.Services, include: Counters.Contains); // counters only: the uninstrumented fast path
        await bus.Control.StartAsync();

        for (var i = 0; i < 5; i++)
        {
            await bus.Bus.PublishAsync(new Tick(i));
        }

        await bus.Log<CountingHandler<FirstTag>, int>().WaitForCountAsync(5);
        await bus.Log<CountingHandler<SecondTag>, int>().WaitForCountAsync(5);
        await bus.Control.StopAsync();

        metrics.Totals(EventBusTelemetry.PublishedMessages).Should().Equal(new Dictionary<string, double> { [Key<Tick>()] = 5 });
        metrics.Totals(EventBusTelemetry.DeliveredMessages).Should().Equal(new Dictionary<string, double> { [Key<Tick, CountingHandler<FirstTag>>()] = 5, [Key<Tick, CountingHandler<SecondTag>>()] = 5 });
        metrics.Totals(EventBusTelemetry.SucceededMessages).Should().Equal(new Dictionary<string, double> { [Key<Tick, CountingHandler<FirstTag>>()] = 5, [Key<Tick, CountingHandler<SecondTag>>()] = 5 });
        metrics.Measurements(EventBusTelemetry.FailedMessages).Should().BeEmpty();
        metrics.Measurements(EventBusTelemetry.RetriedMessages).Should().BeEmpty();
        metrics.Measurements(EventBusTelemetry.DeadLetteredMessages).Should().BeEmpty();
        metrics.Measurements(EventBusTelemetry.DroppedMessages).Should().BeEmpty();
    }

    [Fact]
    public async Task Sent_InlineSendsTypedSendAndAnEnqueue_CountedForTheCommandTopicConsumedOnlyByItsQueue()
    {
        await using var bus = Build(b => b.AddCommandHandler<Charge, ChargeHandler>());
        using var metrics = new MetricCollector(bus.Services, include: Counters.Contains);
        await bus.Control.StartAsync();

        (await bus.Commands.SendAsync(new Charge(1))).IsAccepted.Should().BeTrue();
        (await bus.Commands.SendAsync(new Charge(2))).IsAccepted.Should().BeTrue();
        await bus.Get<ICommandSender<Charge>>().InvokeAsync(new Charge(3));
        await bus.Commands.EnqueueAsync(new Charge(4));
        await bus.Log<ChargeHandler, int>().WaitForCountAsync(4);
        await bus.Control.StopAsync();

        metrics.Totals(EventBusTelemetry.PublishedMessages).Should().Equal(new Dictionary<string, double> { [Key<Charge>()] = 4 }, "a typed sender's send counts as the bus's does");
        metrics.Totals(EventBusTelemetry.DeliveredMessages).Should().Equal(new Dictionary<string, double> { [Key<Charge, ChargeHandler>()] = 1 }, "an inline send runs no subscription");
        metrics.Totals(EventBusTelemetry.SucceededMessages).Should().Equal(new Dictionary<string, double> { [Key<Charge, ChargeHandler>()] = 1 });
    }

    [Fact]
    public async Task Retried_HandlerFailsTwiceWithMaxDeliveriesThree_RetriedTwoThenSucceededOne()
    {
        await using var bus = Build(b => b
            .AddEventHandler<Tick, FailTwiceHandler>()
            .ConfigureSubscription<FailTwiceHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 2 }));
        using var metrics = new MetricCollector(bus.Services, include: Counters.Contains);
        await bus.Control.StartAsync();

        await bus.Bus.PublishAsync(new Tick(1));
        (await bus.Log<FailTwiceHandler, int>().WaitForCountAsync(3)).Should().Equal(1, 2, 3);
        await bus.Control.StopAsync();

        var key = Key<Tick, FailTwiceHandler>();
        metrics.Totals(EventBusTelemetry.DeliveredMessages).Should().Equal(new Dictionary<string, double> { [key] = 3 });
        metrics.Totals(EventBusTelemetry.RetriedMessages).Should().Equal(new Dictionary<string, double> { [key] = 2 });
        metrics.Totals(EventBusTelemetry.SucceededMessages).Should().Equal(new Dictionary<string, double> { [key] = 1 });
        metrics.Measurements(EventBusTelemetry.RetriedMessages).Should().HaveCount(2, "one measurement per redelivery");
        metrics.Measurements(EventBusTelemetry.FailedMessages).Should().BeEmpty("the message ended handled");
        metrics.Measurements(EventBusTelemetry.DeadLetteredMessages).Should().BeEmpty();
    }

    [Fact]
    public async Task DeadLettered_HandlerAlwaysFails_FailedAndDeadLetteredOnceAndTheGaugeCountsTheDeadLetterUntilPurged()
    {
        await using var bus = Build(b => b
            .AddEventHandler<Tick, AlwaysFailingHandler>()
            .AddEventHandler<Tick, CountingHandler<FirstTag>>()
            .ConfigureSubscription<AlwaysFailingHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 }));
        using var metrics = new MetricCollector(bus.Services);
        await bus.Control.StartAsync();

        await bus.Bus.PublishAsync(new Tick(1));
        await bus.Undelivered.WaitForCountAsync(1);
        await bus.Log<CountingHandler<FirstTag>, int>().WaitForCountAsync(1);
        await bus.Control.StopAsync();

        var failing = Key<Tick, AlwaysFailingHandler>();
        var counting = Key<Tick, CountingHandler<FirstTag>>();
        metrics.Totals(EventBusTelemetry.DeliveredMessages).Should().Equal(new Dictionary<string, double> { [failing] = 2, [counting] = 1 });
        metrics.Totals(EventBusTelemetry.RetriedMessages).Should().Equal(new Dictionary<string, double> { [failing] = 1 });
        metrics.Totals(EventBusTelemetry.FailedMessages).Should().Equal(new Dictionary<string, double> { [failing] = 1 });
        metrics.Totals(EventBusTelemetry.DeadLetteredMessages).Should().Equal(new Dictionary<string, double> { [failing] = 1 });
        metrics.Totals(EventBusTelemetry.SucceededMessages).Should().Equal(new Dictionary<string, double> { [counting] = 1 });
        metrics.Observe(EventBusTelemetry.DeadLetters).Should().Equal(new Dictionary<string, double> { [failing] = 1, [counting] = 0 });

        bus.Get<IDeadLetterQueue>().Purge().Should().Be(1);
        metrics.Observe(EventBusTelemetry.DeadLetters).Should().Equal(new Dictionary<string, double> { [failing] = 0, [counting] = 0 });
    }

    [Fact]
    public async Task Failed_AtMostOnceHandlerFails_FailedOnceWithoutRetryOrDeadLetter()
    {
        await using var bus = Build(b => b
            .AddEventHandler<Tick, AlwaysFailingHandler>()
            .ConfigureSubscription<AlwaysFailingHandler>(o => o.AckMode = AckMode.BeforeHandling));
        using var metrics = new MetricCollector(bus.Services, include: Counters.Contains);
        await bus.Control.StartAsync();

        await bus.Bus.PublishAsync(new Tick(1));
        await bus.Undelivered.WaitForCountAsync(1);
        await bus.Control.StopAsync();

        var key = Key<Tick, AlwaysFailingHandler>();
        metrics.Totals(EventBusTelemetry.DeliveredMessages).Should().Equal(new Dictionary<string, double> { [key] = 1 });
        metrics.Totals(EventBusTelemetry.FailedMessages).Should().Equal(new Dictionary<string, double> { [key] = 1 });
        metrics.Measurements(EventBusTelemetry.RetriedMessages).Should().BeEmpty();
        metrics.Measurements(EventBusTelemetry.DeadLetteredMessages).Should().BeEmpty();
        metrics.Measurements(EventBusTelemetry.SucceededMessages).Should().BeEmpty();
    }

    [Fact]
    public async Task Failed_EnqueuedCommandRejected_FailedOnceNotDeadLettered()
    {
        await using var bus = Build(b => b.AddCommandHandler<Charge, ChargeHandler>());
        using var metrics = new MetricCollector(bus.Services, include: Counters.Contains);
        await bus.Control.StartAsync();

        await bus.Commands.EnqueueAsync(new Charge(-1));
        (await bus.Undelivered.WaitForCountAsync(1)).Single().Reason.Should().Be(UndeliveredReason.CommandRejected);
        await bus.Control.StopAsync();

        var key = Key<Charge, ChargeHandler>();
        metrics.Totals(EventBusTelemetry.FailedMessages).Should().Equal(new Dictionary<string, double> { [key] = 1 });
        metrics.Measurements(EventBusTelemetry.DeadLetteredMessages).Should().BeEmpty();
        metrics.Measurements(EventBusTelemetry.RetriedMessages).Should().BeEmpty();
        metrics.Measurements(EventBusTelemetry.SucceededMessages).Should().BeEmpty();
    }

    [Theory]
    [InlineData(FullPolicy.DropNewest, new[] { 0, 1 })]
    [InlineData(FullPolicy.DropOldest, new[] { 3, 4 })]
    public async Task Dropped_FiveIntoACapacityOfTwoBeforeStart_ThreeDroppedTwoBufferedAndHandled(FullPolicy policy, int[] kept)
    {
        await using var bus = Build(b => b
            .AddEventHandler<Tick, CountingHandler<FirstTag>>()
            .ConfigureSubscription<CountingHandler<FirstTag>>(o => { o.Capacity = 2; o.FullPolicy = policy; }));
        using var metrics = new MetricCollector(bus.Services);

        for (var i = 0; i < 5; i++)
        {
            await bus.Bus.PublishAsync(new Tick(i));
        }

        var key = Key<Tick, CountingHandler<FirstTag>>();
        metrics.Totals(EventBusTelemetry.DroppedMessages).Should().Equal(new Dictionary<string, double> { [key] = 3 });
        metrics.Totals(EventBusTelemetry.PublishedMessages).Should().Equal(new Dictionary<string, double> { [Key<Tick>()] = 5 }, "a publish counts once per topic, whatever its subscriptions dropped");
        metrics.Observe(EventBusTelemetry.BufferDepth).Should().Equal(new Dictionary<string, double> { [key] = 2 });

        await bus.Control.StartAsync();
        (await bus.Log<CountingHandler<FirstTag>, int>().WaitForCountAsync(2)).Should().Equal(kept);
        await bus.Control.StopAsync();

        metrics.Totals(EventBusTelemetry.DeliveredMessages).Should().Equal(new Dictionary<string, double> { [key] = 2 });
        metrics.Totals(EventBusTelemetry.SucceededMessages).Should().Equal(new Dictionary<string, double> { [key] = 2 });
        metrics.Totals(EventBusTelemetry.DroppedMessages).Should().Equal(new Dictionary<string, double> { [key] = 3 });
        metrics.Observe(EventBusTelemetry.BufferDepth).Should().Equal(new Dictionary<string, double> { [key] = 0 });
    }

    [Fact]
    public async Task StreamGauges_TwoGroupsOneBehind_LagPerGroupAndRetainedPerStream()
    {
        await using var bus = Build(b => b.AddStream<Tick>(o => o.MaxCount = 100));
        using var metrics = new MetricCollector(bus.Services);
        await bus.Control.StartAsync();
        for (var i = 0; i < 250; i++)
        {
            await bus.Bus.PublishAsync(new Tick(i));
        }

        var streams = bus.Services.GetRequiredService<IEventStreams>();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var current = await streams.SubscribeAsync<Tick>("current", (_, _, _) => default);
        await using var behind = await streams.SubscribeAsync<Tick>("behind", async (_, _, _) => await gate.Task, o => o.StartPosition = StreamPosition.First);

        var topic = typeof(Tick).FullName;
        var tags = $"messaging.destination.name={topic}, messaging.system=eventbus";
        metrics.Observe(EventBusTelemetry.ConsumerLag).Should().Equal(new Dictionary<string, double>
        {
            [$"messaging.consumer.group.name=current, {tags}"] = 0,
            [$"messaging.consumer.group.name=behind, {tags}"] = 100,
        });
        metrics.Observe(EventBusTelemetry.StreamRetained).Should().Equal(new Dictionary<string, double> { [tags] = 100 });
        gate.SetResult();
    }

    [Fact]
    public async Task Depth_SevenBufferedBeforeStart_GaugeReadsSevenPerSubscriptionThenZeroOnceDrained()
    {
        await using var bus = Build(b => b
            .AddEventHandler<Tick, CountingHandler<FirstTag>>()
            .AddEventHandler<Tick, CountingHandler<SecondTag>>()
            .ConfigureSubscription<CountingHandler<SecondTag>>(o => { o.Mode = DeliveryMode.Queue; o.Workers = 2; }));
        using var metrics = new MetricCollector(bus.Services);

        for (var i = 0; i < 7; i++)
        {
            await bus.Bus.PublishAsync(new Tick(i));
        }

        var first = Key<Tick, CountingHandler<FirstTag>>();
        var second = Key<Tick, CountingHandler<SecondTag>>();
        metrics.Observe(EventBusTelemetry.BufferDepth).Should().Equal(new Dictionary<string, double> { [first] = 7, [second] = 7 });
        metrics.Observe(EventBusTelemetry.InFlight).Should().Equal(new Dictionary<string, double> { [first] = 0, [second] = 0 });
        metrics.Observe(EventBusTelemetry.DeadLetters).Should().Equal(new Dictionary<string, double> { [first] = 0, [second] = 0 });

        await bus.Control.StartAsync();
        await bus.Log<CountingHandler<FirstTag>, int>().WaitForCountAsync(7);
        await bus.Log<CountingHandler<SecondTag>, int>().WaitForCountAsync(7);
        await bus.Control.StopAsync();

        metrics.Observe(EventBusTelemetry.BufferDepth).Should().Equal(new Dictionary<string, double> { [first] = 0, [second] = 0 });
        metrics.Observe(EventBusTelemetry.InFlight).Should().Equal(new Dictionary<string, double> { [first] = 0, [second] = 0 });
    }

    [Fact]
    public async Task InFlight_ThreeWorkersHeldAtAGate_GaugeReadsThreeInFlightAndTwoBuffered()
    {
        await using var bus = Build(b => b
            .AddEventHandler<Tick, GatedHandler>()
            .ConfigureSubscription<GatedHandler>(o => { o.Mode = DeliveryMode.Queue; o.Workers = 3; }));
        using var metrics = new MetricCollector(bus.Services);
        await bus.Control.StartAsync();

        for (var i = 0; i < 5; i++)
        {
            await bus.Bus.PublishAsync(new Tick(i));
        }

        await bus.Log<GatedHandler, string>().WaitForCountAsync(3);
        var key = Key<Tick, GatedHandler>();
        metrics.Observe(EventBusTelemetry.InFlight).Should().Equal(new Dictionary<string, double> { [key] = 3 });
        metrics.Observe(EventBusTelemetry.BufferDepth).Should().Equal(new Dictionary<string, double> { [key] = 2 });

        bus.Get<Gate<GatedHandler>>().Open();
        await bus.Log<GatedHandler, int>().WaitForCountAsync(5);
        await bus.Control.StopAsync();

        metrics.Observe(EventBusTelemetry.InFlight).Should().Equal(new Dictionary<string, double> { [key] = 0 });
        metrics.Observe(EventBusTelemetry.BufferDepth).Should().Equal(new Dictionary<string, double> { [key] = 0 });
        metrics.Totals(EventBusTelemetry.SucceededMessages).Should().Equal(new Dictionary<string, double> { [key] = 5 });
    }

    [Fact]
    public async Task Histograms_ThreeAttemptsOfTwoMessages_OneProcessAndOneQueueDurationPerAttempt()
    {
        // Queue time is measured on the bus's TimeProvider: on a fake clock advanced by 3 s between publish and start, every
        // attempt (the immediate retry too: the publish timestamp is kept) waited exactly 3 s.
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
        await using var bus = Build(
            b => b
                .AddEventHandler<Tick, FailFirstAttemptOfOddHandler>()
                .ConfigureSubscription<FailFirstAttemptOfOddHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 }),
            s => s.AddSingleton<TimeProvider>(time));
        using var metrics = new MetricCollector(bus.Services);

        await bus.Bus.PublishAsync(new Tick(1));
        await bus.Bus.PublishAsync(new Tick(2));
        time.Advance(TimeSpan.FromSeconds(3));
        await bus.Control.StartAsync();
        (await bus.Log<FailFirstAttemptOfOddHandler, (int, int)>().WaitForCountAsync(3)).Should().Equal((1, 1), (1, 2), (2, 1));
        await bus.Control.StopAsync();

        var key = Key<Tick, FailFirstAttemptOfOddHandler>();
        var queued = metrics.Measurements(EventBusTelemetry.QueueDuration);
        queued.Select(m => m.Value).Should().Equal(3.0, 3.0, 3.0);
        queued.Should().OnlyContain(m => m.Key == key);
        var processed = metrics.Measurements(EventBusTelemetry.ProcessDuration);
        processed.Should().HaveCount(3, "one measurement per attempt, the failed one included")
            .And.OnlyContain(m => m.Key == key && m.Value >= 0 && m.Value < Wait.Timeout.TotalSeconds);
        metrics.Totals(EventBusTelemetry.DeliveredMessages).Should().Equal(new Dictionary<string, double> { [key] = 3 });
        metrics.Totals(EventBusTelemetry.RetriedMessages).Should().Equal(new Dictionary<string, double> { [key] = 1 });
        metrics.Totals(EventBusTelemetry.SucceededMessages).Should().Equal(new Dictionary<string, double> { [key] = 2 });
    }

    [Fact]
    public async Task Meter_TwoBusesInOneProcess_EachContainersListenerSeesOnlyItsOwnBus()
    {
        await using var first = Build(b => b.AddEventHandler<Tick, CountingHandler<FirstTag>>());
        await using var second = Build(b => b.AddEventHandler<Tick, CountingHandler<FirstTag>>());
        using var firstMetrics = new MetricCollector(first.Services, include: Counters.Contains);
        using var secondMetrics = new MetricCollector(second.Services, include: Counters.Contains);
        await first.Control.StartAsync();
        await second.Control.StartAsync();

        for (var i = 0; i < 3; i++)
        {
            await first.Bus.PublishAsync(new Tick(i));
        }

        await second.Bus.PublishAsync(new Tick(9));
        await first.Log<CountingHandler<FirstTag>, int>().WaitForCountAsync(3);
        await second.Log<CountingHandler<FirstTag>, int>().WaitForCountAsync(1);
        await first.Control.StopAsync();
        await second.Control.StopAsync();

        firstMetrics.Totals(EventBusTelemetry.PublishedMessages).Should().Equal(new Dictionary<string, double> { [Key<Tick>()] = 3 });
        firstMetrics.Totals(EventBusTelemetry.SucceededMessages).Should().Equal(new Dictionary<string, double> { [Key<Tick, CountingHandler<FirstTag>>()] = 3 });
        secondMetrics.Totals(EventBusTelemetry.PublishedMessages).Should().Equal(new Dictionary<string, double> { [Key<Tick>()] = 1 });
        secondMetrics.Totals(EventBusTelemetry.SucceededMessages).Should().Equal(new Dictionary<string, double> { [Key<Tick, CountingHandler<FirstTag>>()] = 1 });
    }

    private static TestBus Build(Action<EventBusBuilder> configure, Action<IServiceCollection>? services = null) =>
        TestBus.Build(configure, s =>
        {
            s.AddMetrics();
            services?.Invoke(s);
        });

    /// <summary>The tag set of a per-topic measurement, as <see cref="MetricCollector"/> keys it.</summary>
    private static string Key<TTopic>() =>
        $"messaging.destination.name={typeof(TTopic).FullName}, messaging.system=eventbus";

    /// <summary>The tag set of a per-subscription measurement, as <see cref="MetricCollector"/> keys it.</summary>
    private static string Key<TTopic, THandler>() =>
        $"messaging.consumer.group.name={typeof(THandler).FullName}, messaging.destination.name={typeof(TTopic).FullName}, messaging.system=eventbus";

    public sealed record Tick(int N);

    public sealed record Charge(int Amount) : ICommand;

    /// <summary>Records what it handles; each <typeparamref name="TTag"/> is a handler type of its own, hence a subscription of its own.</summary>
    public sealed class CountingHandler<TTag>(Recorder<CountingHandler<TTag>, int> handled) : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add(@event.N);
            return default;
        }
    }

    public sealed class FirstTag;

    public sealed class SecondTag;

    public sealed class FailTwiceHandler(Recorder<FailTwiceHandler, int> attempts) : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            attempts.Add(context.DeliveryCount);
            return context.DeliveryCount <= 2 ? throw new InvalidOperationException($"attempt {context.DeliveryCount} failed") : default;
        }
    }

    public sealed class AlwaysFailingHandler : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken) =>
            throw new InvalidOperationException($"tick {@event.N} failed");
    }

    public sealed class FailFirstAttemptOfOddHandler(Recorder<FailFirstAttemptOfOddHandler, (int, int)> attempts) : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            attempts.Add((@event.N, context.DeliveryCount));
            return @event.N % 2 == 1 && context.DeliveryCount == 1 ? throw new InvalidOperationException("first attempt of an odd tick") : default;
        }
    }

    public sealed class GatedHandler(Gate<GatedHandler> gate, Recorder<GatedHandler, string> started, Recorder<GatedHandler, int> handled) : IEventHandler<Tick>
    {
        public async ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add($"started {@event.N}");
            await gate.WaitAsync(cancellationToken);
            handled.Add(@event.N);
        }
    }

    public sealed class ChargeHandler(Recorder<ChargeHandler, int> handled) : ICommandHandler<Charge>
    {
        public ValueTask<CommandResult> HandleAsync(Charge command, MessageContext context, CancellationToken cancellationToken)
        {
            if (command.Amount < 0)
            {
                return ValueTask.FromResult<CommandResult>(CommandResult.Reject("A charge cannot be negative.", "negative"));
            }

            handled.Add(command.Amount);
            return ValueTask.FromResult(CommandResult.Accepted);
        }
    }

    /// <summary>One measurement: the instrument, the value and the tag set (as a sorted "key=value, ..." string).</summary>
    public sealed record Recorded(string Instrument, double Value, string Key);

    /// <summary>Records the measurements of the bus instruments created by one container's <see cref="IMeterFactory"/>.</summary>
    private sealed class MetricCollector : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Lock _lock = new();
        private readonly List<Recorded> _measurements = [];
        private readonly List<Instrument> _instruments = [];

        public MetricCollector(IServiceProvider services, Func<string, bool>? include = null)
        {
            var factory = services.GetRequiredService<IMeterFactory>();
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Scope == factory && instrument.Meter.Name == EventBusTelemetry.MeterName)
                {
                    lock (_lock)
                    {
                        _instruments.Add(instrument);
                    }

                    if (include?.Invoke(instrument.Name) ?? true)
                    {
                        listener.EnableMeasurementEvents(instrument);
                    }
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
            _listener.Start();
        }

        public IReadOnlyList<Instrument> Instruments
        {
            get
            {
                lock (_lock)
                {
                    return [.. _instruments];
                }
            }
        }

        /// <summary>Gets the measurements of one instrument, in recording order.</summary>
        public IReadOnlyList<Recorded> Measurements(string instrument)
        {
            lock (_lock)
            {
                return _measurements.Where(m => m.Instrument == instrument).ToList();
            }
        }

        /// <summary>Gets the sum of a counter's measurements per tag set.</summary>
        public Dictionary<string, double> Totals(string instrument) =>
            Measurements(instrument).GroupBy(m => m.Key).ToDictionary(g => g.Key, g => g.Sum(m => m.Value));

        /// <summary>Reads an observable gauge now: its value per tag set.</summary>
        public Dictionary<string, double> Observe(string instrument)
        {
            var before = Measurements(instrument).Count;
            _listener.RecordObservableInstruments();
            return Measurements(instrument).Skip(before).ToDictionary(m => m.Key, m => m.Value);
        }

        public void Dispose() => _listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var key = string.Join(", ", tags.ToArray().OrderBy(t => t.Key, StringComparer.Ordinal).Select(t => $"{t.Key}={t.Value}"));
            lock (_lock)
            {
                _measurements.Add(new Recorded(instrument.Name, value, key));
            }
        }
    }
}
