using System.Collections.Concurrent;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Queues;

public sealed class RedeliveryTests
{
    private const int FaultMessages = 20_000;
    private const int FaultSeed = 20261127;
    private const int FaultDeadLettered = 543;

    [Fact]
    public async Task FaultInjection_20000MessagesFourWorkers30PercentFailures_EveryMessageHandledOnceOrDeadLettered()
    {
        // Whether attempt k of message n fails is a pure function of (seed, n, k), so the expected outcome is known exactly
        // whatever the scheduling: a message is dead-lettered iff all 3 of its attempts fail.
        var expectedDeadLettered = Enumerable.Range(0, FaultMessages).Count(n => Enumerable.Range(1, 3).All(k => FlakyHandler.Fails(n, k)));
        var expectedSucceeded = FaultMessages - expectedDeadLettered;
        var expectedFailedAttempts = Enumerable.Range(0, FaultMessages).Sum(n => Enumerable.Range(1, 3).TakeWhile(k => FlakyHandler.Fails(n, k)).Count());
        expectedDeadLettered.Should().Be(FaultDeadLettered, "the seeded fault pattern is the same on every run");

        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Work, FlakyHandler>(ServiceLifetime.Singleton)
            .Configure(o => o.DefaultDeadLetterCapacity = FaultMessages)
            .ConfigureSubscription<FlakyHandler>(o =>
            {
                o.Mode = DeliveryMode.Queue;
                o.Workers = 4;
                o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 1, InitialDelay = TimeSpan.FromMilliseconds(1), MaxDelay = TimeSpan.FromMilliseconds(5) };
            }));
        var handled = bus.Get<Recorder<FlakyHandler, int>>();

        var publishers = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var n = p; n < FaultMessages; n += 4)
            {
                await bus.Bus.PublishAsync(new Work(n));
            }
        }));
        await Task.WhenAll(publishers).Within();
        await handled.WaitForCountAsync(expectedSucceeded);
        await bus.Undelivered.WaitForCountAsync(expectedDeadLettered);
        var report = await bus.Control.StopAsync();

        handled.Items.Should().OnlyHaveUniqueItems().And.HaveCount(expectedSucceeded);
        var deadLetters = bus.Get<IDeadLetterQueue>().GetDeadLetters();
        deadLetters.Should().HaveCount(expectedDeadLettered).And.OnlyContain(d => d.DeliveryCount == 3 && d.ExceptionType == typeof(InvalidOperationException).FullName);
        var deadIds = deadLetters.Select(d => ((Work)d.Message).N).ToHashSet();
        deadIds.Should().NotIntersectWith(handled.Items);
        deadIds.Count.Should().Be(expectedDeadLettered);
        (handled.Count + deadIds.Count).Should().Be(FaultMessages);
        bus.Undelivered.Items.Should().OnlyContain(u => u.Reason == UndeliveredReason.HandlerFailed);
        report.Drained.Should().BeTrue();

        var snapshot = bus.Snapshot<FlakyHandler>();
        snapshot.Succeeded.Should().Be(expectedSucceeded);
        snapshot.DeadLettered.Should().Be(expectedDeadLettered);
        snapshot.Failed.Should().Be(expectedDeadLettered);
        snapshot.Delivered.Should().Be(snapshot.Succeeded + snapshot.Retried + snapshot.DeadLettered);
        snapshot.Delivered.Should().Be(FaultMessages + expectedFailedAttempts - expectedDeadLettered, "every failed attempt but a message's last is retried");
        snapshot.Retried.Should().Be(expectedFailedAttempts - expectedDeadLettered);
    }

    [Fact]
    public async Task PoisonMessage_AlwaysThrows_DeadLetteredAfterExactlyMaxDeliveriesThenRedriveSucceeds()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 27, 12, 0, 0, TimeSpan.Zero));
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Work, PoisonHandler>()
                .ConfigureSubscription<PoisonHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 4, ImmediateRetries = 3 }),
            s => s.AddSingleton<TimeProvider>(time).AddSingleton<PoisonSwitch>());
        var attempts = bus.Get<Recorder<PoisonHandler, (int DeliveryCount, bool Redelivered)>>();

        await bus.Bus.PublishAsync(new Work(7));
        await bus.Undelivered.WaitForCountAsync(1);

        attempts.Items.Should().Equal((1, false), (2, true), (3, true), (4, true));
        var deadLetter = bus.Get<IDeadLetterQueue>().GetDeadLetters().Should().ContainSingle().Subject;
        deadLetter.Message.Should().Be(new Work(7));
        deadLetter.DeliveryCount.Should().Be(4);
        deadLetter.Reason.Should().Be("poison 7");
        deadLetter.ExceptionType.Should().Be(typeof(InvalidOperationException).FullName);
        deadLetter.ExceptionMessage.Should().Be("poison 7");
        deadLetter.FirstFailure.Should().Be(time.GetUtcNow());
        deadLetter.LastFailure.Should().Be(time.GetUtcNow());
        deadLetter.Subscription.Should().Be(typeof(PoisonHandler).FullName);
        bus.Snapshot<PoisonHandler>().DeadLetters.Should().Be(1);

        // The handler is fixed; a re-drive starts a new round of attempts and succeeds once.
        bus.Get<PoisonSwitch>().Fixed = true;
        (await bus.Get<IDeadLetterQueue>().RedriveAsync()).Should().Be(1);
        await attempts.WaitForCountAsync(5);
        await bus.WaitUntilIdleAsync();

        attempts.Items[4].Should().Be((1, false));
        bus.Get<IDeadLetterQueue>().Count.Should().Be(0);
        bus.Snapshot<PoisonHandler>().Succeeded.Should().Be(1);
    }

    [Fact]
    public async Task Backoff_QueueMode_FollowsScheduleOnFakeClockWithoutBlockingOtherMessages()
    {
        var time = new FakeTimeProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Work, PoisonHandler>(ServiceLifetime.Singleton)
                .ConfigureSubscription<PoisonHandler>(o =>
                {
                    o.Mode = DeliveryMode.Queue;
                    o.Workers = 1;
                    o.Redelivery = new RedeliveryOptions { MaxDeliveries = 5, ImmediateRetries = 1, InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(3), JitterFraction = 0 };
                }),
            s => s.AddSingleton<TimeProvider>(time).AddSingleton<PoisonSwitch>());
        var attempts = bus.Get<Recorder<PoisonHandler, (int DeliveryCount, bool Redelivered)>>();
        var switcher = bus.Get<PoisonSwitch>();
        switcher.HealthyIds.Add(100);

        await bus.Bus.PublishAsync(new Work(7));
        await attempts.WaitForCountAsync(2); // the first delivery and the immediate retry
        await Wait.UntilAsync(() => bus.Snapshot<PoisonHandler>().ScheduledRedeliveries == 1, "the third attempt is scheduled");

        // While message 7 waits for its redelivery, the single worker handles other messages.
        await bus.Bus.PublishAsync(new Work(100));
        await attempts.WaitForCountAsync(3);
        attempts.Items[2].Should().Be((1, false));

        foreach (var (delay, attempt) in new[] { (TimeSpan.FromSeconds(1), 3), (TimeSpan.FromSeconds(2), 4), (TimeSpan.FromSeconds(3), 5) })
        {
            // Just before the delay nothing fires; at the delay the next attempt runs.
            time.Advance(delay - TimeSpan.FromMilliseconds(1));
            bus.Snapshot<PoisonHandler>().ScheduledRedeliveries.Should().Be(1, $"attempt {attempt} is due only after {delay}");
            time.Advance(TimeSpan.FromMilliseconds(1));
            await attempts.WaitForCountAsync(attempt + 1);
            attempts.Items[attempt].Should().Be((attempt, true));
            if (attempt < 5)
            {
                await Wait.UntilAsync(() => bus.Snapshot<PoisonHandler>().ScheduledRedeliveries == 1, $"attempt {attempt + 1} is scheduled");
            }
        }

        await bus.Undelivered.WaitForCountAsync(1);
        bus.Get<IDeadLetterQueue>().GetDeadLetters().Single().DeliveryCount.Should().Be(5);
    }

    [Fact]
    public async Task Backoff_BroadcastMode_WaitsInPlaceAndKeepsOrder()
    {
        var time = new FakeTimeProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Work, PoisonHandler>(ServiceLifetime.Singleton)
                .ConfigureSubscription<PoisonHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, InitialDelay = TimeSpan.FromSeconds(10), JitterFraction = 0 }),
            s => s.AddSingleton<TimeProvider>(time).AddSingleton<PoisonSwitch>());
        var attempts = bus.Get<Recorder<PoisonHandler, (int DeliveryCount, bool Redelivered)>>();
        var switcher = bus.Get<PoisonSwitch>();
        switcher.HealthyIds.Add(2);
        switcher.FailOnceIds.Add(1);

        await bus.Bus.PublishAsync(new Work(1));
        await bus.Bus.PublishAsync(new Work(2));
        await attempts.WaitForCountAsync(1);
        bus.Snapshot<PoisonHandler>().Depth.Should().Be(1, "message 2 waits behind message 1's in-place redelivery");

        // The worker creates its delay timer right after counting the retry; advance until the redelivery happens.
        await FakeClock.AdvanceUntilAsync(time, TimeSpan.FromSeconds(10), () => bus.Get<Recorder<PoisonHandler, int>>().Count > 0);
        await bus.Get<Recorder<PoisonHandler, int>>().WaitForCountAsync(2);
        bus.Get<Recorder<PoisonHandler, int>>().Items.Should().Equal(1, 2);
    }

    [Theory]
    [InlineData(2, 0.0, 0)]
    [InlineData(3, 0.0, 0)]
    [InlineData(4, 0.5, 1000)]
    [InlineData(5, 0.5, 2000)]
    [InlineData(6, 0.5, 4000)]
    [InlineData(7, 0.5, 5000)]
    [InlineData(4, 0.0, 800)]
    [InlineData(4, 0.999999, 1200)]
    public void GetDelay_TwoImmediateRetriesThenExponentialWithJitter_ComputesSchedule(int nextAttempt, double random, int expectedMs)
    {
        var options = new RedeliveryOptions { MaxDeliveries = 10, ImmediateRetries = 2, InitialDelay = TimeSpan.FromSeconds(1), MaxDelay = TimeSpan.FromSeconds(5), JitterFraction = 0.2 };

        options.GetDelay(nextAttempt, random).TotalMilliseconds.Should().BeApproximately(expectedMs, 0.01);
    }

    [Fact]
    public async Task Validate_InvalidRedeliveryOptions_ListsEveryOneWithItsValue()
    {
        await using var bus = TestBus.Build(
            b => b
            .AddEventHandler<Work, PoisonHandler>()
            .ConfigureSubscription<PoisonHandler>(o =>
            {
                o.Redelivery = new RedeliveryOptions { MaxDeliveries = 0, ImmediateRetries = -1, InitialDelay = TimeSpan.FromSeconds(-1), JitterFraction = 2 };
                o.HandlerTimeout = TimeSpan.Zero;
                o.DeadLetterCapacity = -5;
            }),
            s => s.AddSingleton<PoisonSwitch>());

        var act = () => bus.Bus;

        act.Should().Throw<Microsoft.Extensions.Options.OptionsValidationException>()
            .Which.Failures.Should().HaveCount(6).And.Contain(f => f.Contains("MaxDeliveries") && f.Contains("it is 0"))
            .And.Contain(f => f.Contains("ImmediateRetries") && f.Contains("it is -1"))
            .And.Contain(f => f.Contains("InitialDelay") && f.Contains("-00:00:01"))
            .And.Contain(f => f.Contains("JitterFraction") && f.Contains("it is 2"))
            .And.Contain(f => f.Contains("HandlerTimeout") && f.Contains("it is 00:00:00"))
            .And.Contain(f => f.Contains("DeadLetterCapacity") && f.Contains("it is -5"));
    }

    public sealed record Work(int N);

    public sealed class FlakyHandler(Recorder<FlakyHandler, int> handled) : IEventHandler<Work>
    {
        // A seeded Random is deterministic across runs and machines (HashCode.Combine is not: it is randomised per process).
        public static bool Fails(int n, int attempt) => new Random(unchecked((FaultSeed * 397) ^ (n * 31) ^ (attempt * 1_000_003))).NextDouble() < 0.3;

        public ValueTask HandleAsync(Work @event, MessageContext context, CancellationToken cancellationToken)
        {
            if (Fails(@event.N, context.DeliveryCount))
            {
                throw new InvalidOperationException($"injected failure of {@event.N} at attempt {context.DeliveryCount}");
            }

            handled.Add(@event.N);
            return ValueTask.CompletedTask;
        }
    }

    public sealed class PoisonSwitch
    {
        public volatile bool Fixed;

        public ConcurrentBag<int> HealthyIds { get; } = [];

        public ConcurrentBag<int> FailOnceIds { get; } = [];

        public ConcurrentDictionary<int, int> Failures { get; } = new();
    }

    public sealed class PoisonHandler(PoisonSwitch poison, Recorder<PoisonHandler, (int DeliveryCount, bool Redelivered)> attempts, Recorder<PoisonHandler, int> handled) : IEventHandler<Work>
    {
        public ValueTask HandleAsync(Work @event, MessageContext context, CancellationToken cancellationToken)
        {
            attempts.Add((context.DeliveryCount, context.Redelivered));
            var failOnce = poison.FailOnceIds.Contains(@event.N) && poison.Failures.AddOrUpdate(@event.N, 1, (_, c) => c + 1) == 1;
            if (!poison.Fixed && (failOnce || !(poison.HealthyIds.Contains(@event.N) || poison.FailOnceIds.Contains(@event.N))))
            {
                throw new InvalidOperationException($"poison {@event.N}");
            }

            handled.Add(@event.N);
            return ValueTask.CompletedTask;
        }
    }
}
