using Autofac;
using Autofac.Extensions.DependencyInjection;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Hosting;

/// <summary><see cref="IEventBusControl.StopAsync"/>: drains within <see cref="EventBusOptions.StopTimeout"/>, then reports what it could not finish.</summary>
public sealed class StopTests
{
    [Fact]
    public async Task StopAsync_TenThousandBufferedEvents_HandlesAllInOrderAndReportsDrained()
    {
        const int Events = 10_000;
        await using var bus = await TestBus.StartAsync(b => b
            .Configure(o => o.StopTimeout = Wait.Timeout)
            .AddEventHandler<Job, GatedJobHandler>()
            .ConfigureSubscription<GatedJobHandler>(o => o.Capacity = 16_384));

        // Job 0 holds the worker, so that all the others are buffered when the stop begins.
        await bus.Bus.PublishAsync(new Job(0));
        await bus.Log<GatedJobHandler, string>().WaitForCountAsync(1);
        for (var i = 1; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new Job(i));
        }

        bus.Snapshot<GatedJobHandler>().Should().Match<SubscriptionSnapshot>(s => s.Depth == Events - 1 && s.InFlight == 1);
        var stopping = bus.Control.StopAsync();
        bus.Get<Gate<GatedJobHandler>>().Open();
        var report = await stopping.Within();

        report.Drained.Should().BeTrue();
        report.Unfinished.Should().BeEmpty();
        bus.Log<GatedJobHandler, int>().Items.Should().Equal(Enumerable.Range(0, Events));
        bus.Undelivered.Count.Should().Be(0);
    }

    [Fact]
    public async Task StopAsync_TimeoutWithOneSubscriptionBlocked_OtherSubscriptionDrainsAndBlockedOneIsReported()
    {
        const int Events = 8;
        await using var bus = await TestBus.StartAsync(b => b
            .Configure(o => o.StopTimeout = TimeSpan.FromMilliseconds(200))
            .AddEventHandler<Job, GatedJobHandler>()
            .AddEventHandler<Job, FastJobHandler>());

        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new Job(i));
        }

        await bus.Log<GatedJobHandler, string>().WaitForCountAsync(1);
        await bus.Log<FastJobHandler, int>().WaitForCountAsync(Events);
        var report = await bus.Control.StopAsync().Within(); // the gate never opens: the 200 ms timeout expires

        report.Drained.Should().BeFalse();
        report.Unfinished.Should().OnlyContain(u => u.Subscription == typeof(GatedJobHandler).FullName);
        report.Unfinished.Should().ContainSingle(u => u.Reason == UndeliveredReason.CancelledByStop)
            .Which.Should().Match<UndeliveredMessage>(u => u.Message.Equals(new Job(0)) && u.Exception is OperationCanceledException);
        report.Unfinished.Where(u => u.Reason == UndeliveredReason.NotStartedBeforeStop).Select(u => u.Message)
            .Should().Equal(Enumerable.Range(1, Events - 1).Select(i => new Job(i)), "buffered messages are reported in buffer order");
        (bus.Log<GatedJobHandler, int>().Count + report.Unfinished.Count).Should().Be(Events);
        bus.Log<FastJobHandler, int>().Items.Should().Equal(Enumerable.Range(0, Events));
        bus.Undelivered.Items.Should().BeEquivalentTo(report.Unfinished);
    }

    [Fact]
    public async Task StopAsync_CancellationTokenCancelled_CutsTheDrainShortLikeATimeout()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .Configure(o => o.StopTimeout = TimeSpan.FromHours(1))
            .AddEventHandler<Job, GatedJobHandler>());
        await bus.Bus.PublishAsync(new Job(0));
        await bus.Bus.PublishAsync(new Job(1));
        await bus.Log<GatedJobHandler, string>().WaitForCountAsync(1);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        var report = await bus.Control.StopAsync(cancelled.Token).Within();

        report.Drained.Should().BeFalse();
        report.Unfinished.Select(u => (u.Message, u.Reason)).Should().BeEquivalentTo(new (object, UndeliveredReason)[]
        {
            (new Job(0), UndeliveredReason.CancelledByStop),
            (new Job(1), UndeliveredReason.NotStartedBeforeStop),
        });
    }

    [Fact]
    public async Task StopAsync_StopTimeout_MeasuredWithTheRegisteredTimeProvider()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var bus = await TestBus.StartAsync(
            b => b.Configure(o => o.StopTimeout = TimeSpan.FromHours(1)).AddEventHandler<Job, GatedJobHandler>(),
            s => s.AddSingleton<TimeProvider>(clock));
        await bus.Bus.PublishAsync(new Job(0));
        await bus.Log<GatedJobHandler, string>().WaitForCountAsync(1);

        var stopping = bus.Control.StopAsync();

        // An hour of fake time passes in a few steps; with the real clock the stop would take an hour and this wait would time out.
        await Wait.UntilAsync(
            () =>
            {
                clock.Advance(TimeSpan.FromMinutes(10));
                return stopping.IsCompleted;
            },
            "the stop times out on the fake clock");
        var report = await stopping;
        report.Drained.Should().BeFalse();
        report.Unfinished.Should().ContainSingle().Which.Reason.Should().Be(UndeliveredReason.CancelledByStop);
        report.Elapsed.Should().BeGreaterThanOrEqualTo(TimeSpan.FromHours(1), "the report measures time with the same clock");
    }

    [Fact]
    public async Task StopAsync_HandlerIgnoresCancellation_AbandonedAfterGracePeriodAndReported()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var bus = await TestBus.StartAsync(
            b => b.Configure(o => o.StopTimeout = TimeSpan.FromSeconds(5)).AddEventHandler<Job, StubbornJobHandler>(),
            s => s.AddSingleton<TimeProvider>(clock));
        var gate = bus.Get<Gate<StubbornJobHandler>>();
        try
        {
            await bus.Bus.PublishAsync(new Job(0));
            await bus.Bus.PublishAsync(new Job(1));
            await bus.Log<StubbornJobHandler, string>().WaitForCountAsync(1);

            var stopping = bus.Control.StopAsync();
            await Wait.UntilAsync(
                () =>
                {
                    clock.Advance(TimeSpan.FromSeconds(1));
                    return stopping.IsCompleted;
                },
                "the stop gives up on the stubborn handler");
            var report = await stopping;

            report.Drained.Should().BeFalse();
            report.Unfinished.Select(u => (u.Message, u.Reason)).Should().BeEquivalentTo(new (object, UndeliveredReason)[]
            {
                (new Job(0), UndeliveredReason.CancelledByStop),
                (new Job(1), UndeliveredReason.NotStartedBeforeStop),
            });
            bus.Undelivered.Count.Should().Be(2);
        }
        finally
        {
            gate.Open(); // let the abandoned handler end
        }
    }

    [Fact]
    public async Task StopAsync_TimeoutCancelsHandlersWithAttemptsLeft_ReportedUnfinishedNeitherRetriedNorCountedAsFailed()
    {
        const int Events = 10, Workers = 2;
        await using var bus = await TestBus.StartAsync(b => b
            .Configure(o => o.StopTimeout = TimeSpan.FromMilliseconds(200))
            .AddEventHandler<Job, GatedJobHandler>()
            .ConfigureSubscription<GatedJobHandler>(o =>
            {
                o.Mode = DeliveryMode.Queue;
                o.Workers = Workers;
                o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 2 };
            }));
        var started = bus.Log<GatedJobHandler, string>();
        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new Job(i));
        }

        await started.WaitForCountAsync(Workers);
        var report = await bus.Control.StopAsync().Within(); // the gate never opens: the timeout cancels both handlers

        report.Unfinished.Count(u => u.Reason == UndeliveredReason.CancelledByStop).Should().Be(Workers);
        report.Unfinished.Count(u => u.Reason == UndeliveredReason.NotStartedBeforeStop).Should().Be(Events - Workers);
        report.Unfinished.Select(u => ((Job)u.Message).N).Should().BeEquivalentTo(Enumerable.Range(0, Events), "each message is reported once");
        started.Count.Should().Be(Workers, "a message cut short by the stop is not handed to its handler again");
        var snapshot = bus.Snapshot<GatedJobHandler>();
        (snapshot.Failed, snapshot.DeadLettered, snapshot.Retried, snapshot.Succeeded).Should().Be((0, 0, 0, 0), "a stop is not a handler failure");
        bus.Get<IDeadLetterQueue>().GetDeadLetters().Should().BeEmpty();
        bus.Undelivered.Items.Should().BeEquivalentTo(report.Unfinished);
    }

    [Fact]
    public async Task StopAsync_TimeoutCancelsABatchWithAttemptsLeft_ReportedUnfinishedNotRetried()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .Configure(o => o.StopTimeout = TimeSpan.FromMilliseconds(200))
            .AddBatchEventHandler<Job, GatedBatchHandler>(maxBatchSize: 10, maxWait: TimeSpan.Zero)
            .ConfigureSubscription<GatedBatchHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 2 }));
        var started = bus.Log<GatedBatchHandler, int>();
        await bus.Bus.PublishBatchAsync([new Job(0), new Job(1), new Job(2)]);
        await started.WaitForCountAsync(1);

        var report = await bus.Control.StopAsync().Within();

        started.Count.Should().Be(1, "the cancelled batch is not attempted again");
        report.Unfinished.Where(u => u.Reason == UndeliveredReason.CancelledByStop).Select(u => ((Job)u.Message).N).Should().BeEquivalentTo(Enumerable.Range(0, started.Items[0]), "the messages of the batch in hand were cancelled");
        report.Unfinished.Select(u => ((Job)u.Message).N).Should().BeEquivalentTo([0, 1, 2], "each message is reported once");
        var snapshot = bus.Snapshot<GatedBatchHandler>();
        (snapshot.Failed, snapshot.DeadLettered, snapshot.Retried).Should().Be((0, 0, 0));
        bus.Get<IDeadLetterQueue>().GetDeadLetters().Should().BeEmpty();
    }

    /// <summary>
    /// The container disposes its services after it stopped creating scopes, so a delivery can start in between and fail to create
    /// its scope. Each container says "disposed" its own way; the bus must recognise both as the bus going down, not a failure.
    /// </summary>
    [Theory]
    [InlineData(ContainerKind.Microsoft)]
    [InlineData(ContainerKind.Autofac)]
    public async Task DisposeContainer_DeliveryStartsWhileItIsDisposing_ReportedUnfinishedNotRetriedNorDeadLettered(ContainerKind kind)
    {
        var services = TestBus.CreateServices(
            b => b.AddEventHandler<Job, GatedJobHandler>()
                .ConfigureSubscription<GatedJobHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 3, ImmediateRetries = 2 }),
            s => s.AddSingleton<DisposalProbe>(),
            out var undelivered);
        var provider = Build(services, kind);
        var control = provider.GetRequiredService<IEventBusControl>();
        var started = provider.GetRequiredService<Recorder<GatedJobHandler, string>>();
        var handled = provider.GetRequiredService<Recorder<GatedJobHandler, int>>();
        await control.StartAsync();
        var bus = provider.GetRequiredService<IEventBus>();
        for (var i = 0; i < 5; i++)
        {
            await bus.PublishAsync(new Job(i));
        }

        await started.WaitForCountAsync(1);

        // Resolved after the bus, so disposed before it: it lets job 0 finish, then holds the disposal until job 1's delivery,
        // which can no longer get a scope, has been reported.
        _ = provider.GetRequiredService<DisposalProbe>();
        await ((IAsyncDisposable)provider).DisposeAsync().AsTask().Within();

        handled.Items.Should().Equal(0);
        started.Count.Should().Be(1, "no handler runs once the container is disposing");
        undelivered.Items.Select(u => (((Job)u.Message).N, u.Reason)).Should().Equal(
            (1, UndeliveredReason.CancelledByStop),
            (2, UndeliveredReason.NotStartedBeforeStop),
            (3, UndeliveredReason.NotStartedBeforeStop),
            (4, UndeliveredReason.NotStartedBeforeStop));
        undelivered.Items[0].Exception.Should().BeAssignableTo<ObjectDisposedException>();
        var snapshot = control.GetSnapshot().Single();
        (snapshot.Succeeded, snapshot.Failed, snapshot.DeadLettered, snapshot.Retried).Should().Be((1, 0, 0, 0), "a disposed container is not a handler failure");
        snapshot.DeadLetters.Should().Be(0);
    }

    public enum ContainerKind
    {
        Microsoft,
        Autofac,
    }

    private static IServiceProvider Build(IServiceCollection services, ContainerKind kind)
    {
        if (kind == ContainerKind.Microsoft)
        {
            return services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
        }

        var builder = new ContainerBuilder();
        builder.Populate(services);
        return new AutofacServiceProvider(builder.Build());
    }

    [Fact]
    public async Task DisposeWithoutStop_WhileRunning_LogsDisposedWithoutStopWithTheCountAndReportsTheBufferedAsNotStarted()
    {
        var logs = new List<string>();
        var bus = await TestBus.StartAsync(
            b => b.Configure(o => o.StopTimeout = TimeSpan.FromMilliseconds(200)).AddEventHandler<Job, GatedJobHandler>(),
            s => s.AddLogging(l => l.AddProvider(new ListLoggerProvider(logs))));

        // Job 0 holds the worker (its gate never opens), jobs 1 and 2 stay buffered.
        await bus.Bus.PublishAsync(new Job(0));
        await bus.Log<GatedJobHandler, string>().WaitForCountAsync(1);
        await bus.Bus.PublishAsync(new Job(1));
        await bus.Bus.PublishAsync(new Job(2));

        await bus.DisposeAsync().AsTask().Within();

        bus.Undelivered.Items.Select(u => (((Job)u.Message).N, u.Reason)).Should().BeEquivalentTo(
            [(0, UndeliveredReason.CancelledByStop), (1, UndeliveredReason.NotStartedBeforeStop), (2, UndeliveredReason.NotStartedBeforeStop)]);
        lock (logs)
        {
            logs.Should().ContainSingle(m => m.StartsWith("Warning DisposedWithoutStop:", StringComparison.Ordinal))
                .Which.Should().Contain("3 message(s) were not delivered");
            logs.Should().NotContain(m => m.Contains("stop timeout", StringComparison.Ordinal) && m.Contains("MessageUnfinished", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task StopAsyncThenDispose_DoesNotLogDisposedWithoutStop()
    {
        var logs = new List<string>();
        var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Job, FastJobHandler>(),
            s => s.AddLogging(l => l.AddProvider(new ListLoggerProvider(logs))));
        await bus.Bus.PublishAsync(new Job(1));

        (await bus.Control.StopAsync().Within()).Drained.Should().BeTrue();
        await bus.DisposeAsync().AsTask().Within();

        lock (logs)
        {
            logs.Should().NotContain(m => m.Contains("DisposedWithoutStop", StringComparison.Ordinal));
            logs.Should().ContainSingle(m => m.StartsWith("Information BusStopped:", StringComparison.Ordinal));
        }
    }

    public sealed record Job(int N);

    /// <summary>Disposed by the container before the bus: opens the handlers' gate, then waits until a message was reported undelivered.</summary>
    public sealed class DisposalProbe(Gate<GatedJobHandler> gate, Recorder<UndeliveredMessage> undelivered) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            gate.Open();
            await undelivered.WaitForCountAsync(1).Within();
        }
    }

    public sealed class GatedBatchHandler(Gate<GatedBatchHandler> gate, Recorder<GatedBatchHandler, int> started) : IBatchEventHandler<Job>
    {
        public async ValueTask HandleAsync(IReadOnlyList<Job> events, IReadOnlyList<MessageContext> contexts, CancellationToken cancellationToken)
        {
            started.Add(events.Count);
            await gate.WaitAsync(cancellationToken);
        }
    }

    public sealed class GatedJobHandler(Gate<GatedJobHandler> gate, Recorder<GatedJobHandler, string> started, Recorder<GatedJobHandler, int> handled) : IEventHandler<Job>
    {
        public async ValueTask HandleAsync(Job @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add($"started {@event.N}");
            await gate.WaitAsync(cancellationToken);
            await Task.Yield(); // slow-ish: every job goes through the thread pool
            handled.Add(@event.N);
        }
    }

    /// <summary>Ignores its cancellation token.</summary>
    public sealed class StubbornJobHandler(Gate<StubbornJobHandler> gate, Recorder<StubbornJobHandler, string> started) : IEventHandler<Job>
    {
        public async ValueTask HandleAsync(Job @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add($"started {@event.N}");
            await gate.WaitAsync(CancellationToken.None);
        }
    }

    public sealed class FastJobHandler(Recorder<FastJobHandler, int> handled) : IEventHandler<Job>
    {
        public ValueTask HandleAsync(Job @event, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add(@event.N);
            return default;
        }
    }
}
