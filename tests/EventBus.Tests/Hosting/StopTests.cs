using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
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

    public sealed record Job(int N);

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
