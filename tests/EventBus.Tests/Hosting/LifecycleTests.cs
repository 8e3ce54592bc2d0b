using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace EventBus.Tests.Hosting;

/// <summary>Starting and stopping the bus, with the generic host and without one.</summary>
public sealed class LifecycleTests
{
    [Fact]
    public async Task HostStartAsync_StartsTheBus_AndHostStopAsync_DrainsIt()
    {
        const int Events = 500;
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        TestBus.AddTestServices(builder.Services, out _);
        builder.Services.AddEventBus(b => b.AddEventHandler<Beat, SlowBeatHandler>());
        using var host = builder.Build();
        var control = host.Services.GetRequiredService<IEventBusControl>();
        var bus = host.Services.GetRequiredService<IEventBus>();
        control.IsRunning.Should().BeFalse();

        await host.StartAsync().Within();
        control.IsRunning.Should().BeTrue("the hosted service starts the bus");
        for (var i = 0; i < Events; i++)
        {
            await bus.PublishAsync(new Beat(i));
        }

        await host.StopAsync().Within();

        control.IsRunning.Should().BeFalse();
        host.Services.GetRequiredService<Recorder<SlowBeatHandler, int>>().Items.Should().Equal(Enumerable.Range(0, Events), "the host's stop drains the bus");
        var report = await control.StopAsync();
        report.Drained.Should().BeTrue();
        report.Unfinished.Should().BeEmpty();
        var publish = async () => await bus.PublishAsync(new Beat(Events));
        await publish.Should().ThrowAsync<ObjectDisposedException>();
    }

    [Fact]
    public async Task StartAsync_WithoutHost_PublishHandleAndStop()
    {
        var services = TestBus.CreateServices(b => b.AddEventHandler<Beat, BeatHandler>(), null, out _);
        await using var provider = services.BuildServiceProvider();
        var control = provider.GetRequiredService<IEventBusControl>();
        var bus = provider.GetRequiredService<IEventBus>();

        await control.StartAsync();
        control.IsRunning.Should().BeTrue();
        await bus.PublishAsync(new Beat(1));
        await bus.PublishAsync(new Beat(2));
        var handled = await provider.GetRequiredService<Recorder<BeatHandler, int>>().WaitForCountAsync(2);
        var report = await control.StopAsync();

        handled.Should().Equal(1, 2);
        report.Drained.Should().BeTrue();
        control.IsRunning.Should().BeFalse();
    }

    [Fact]
    public async Task PublishAsync_BeforeStart_BufferedAndHandledOnceStarted()
    {
        await using var bus = TestBus.Build(b => b.AddEventHandler<Beat, BeatHandler>());

        await bus.Bus.PublishAsync(new Beat(1));
        await bus.Bus.PublishAsync(new Beat(2));
        bus.Snapshot<BeatHandler>().Depth.Should().Be(2);
        bus.Log<BeatHandler, int>().Count.Should().Be(0, "nothing runs before the bus starts");
        await bus.Control.StartAsync();

        (await bus.Log<BeatHandler, int>().WaitForCountAsync(2)).Should().Equal(1, 2);
    }

    [Fact]
    public async Task StartAsync_Twice_IsANoOp()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Beat, BeatHandler>());

        await bus.Control.StartAsync();
        await bus.Bus.PublishAsync(new Beat(1));

        (await bus.Log<BeatHandler, int>().WaitForCountAsync(1)).Should().Equal(1);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<BeatHandler, int>().Count.Should().Be(1, "a second start does not add workers that handle it twice");
    }

    [Fact]
    public async Task StartAsync_AfterStop_ThrowsInvalidOperationException()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Beat, BeatHandler>());
        await bus.Control.StopAsync();

        var restart = () => bus.Control.StartAsync();

        await restart.Should().ThrowAsync<InvalidOperationException>().WithMessage("*stopped*");
        bus.Control.IsRunning.Should().BeFalse();
    }

    [Fact]
    public async Task StopAsync_CalledTwice_ReturnsTheSameReport()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Beat, BeatHandler>());
        await bus.Bus.PublishAsync(new Beat(1));

        var first = await bus.Control.StopAsync();
        var second = await bus.Control.StopAsync();

        second.Should().BeSameAs(first);
        first.Drained.Should().BeTrue();
    }

    [Fact]
    public async Task StopAsync_ConcurrentCalls_ShareOneStop()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Beat, SlowBeatHandler>());
        for (var i = 0; i < 100; i++)
        {
            await bus.Bus.PublishAsync(new Beat(i));
        }

        var reports = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => Task.Run(() => bus.Control.StopAsync()))).Within();

        reports.Should().AllSatisfy(r => r.Should().BeSameAs(reports[0]));
        reports[0].Drained.Should().BeTrue();
        bus.Log<SlowBeatHandler, int>().Count.Should().Be(100);
    }

    [Fact]
    public async Task StopAsync_NeverStarted_ReportsBufferedEventsAsNotStarted()
    {
        await using var bus = TestBus.Build(b => b.AddEventHandler<Beat, BeatHandler>());
        await bus.Bus.PublishAsync(new Beat(1));
        await bus.Bus.PublishAsync(new Beat(2));

        var report = await bus.Control.StopAsync();

        report.Drained.Should().BeFalse();
        report.Unfinished.Should().OnlyContain(u => u.Reason == UndeliveredReason.NotStartedBeforeStop);
        report.Unfinished.Select(u => u.Message).Should().Equal(new Beat(1), new Beat(2));
        bus.Log<BeatHandler, int>().Count.Should().Be(0);
    }

    /// <summary>
    /// Disposing the container (without calling StopAsync first) stops the bus. The container is already disposed by then, so the
    /// bus cannot create delivery scopes any more: buffered messages must come out as unfinished, not as handler failures caused
    /// by the disposed container.
    /// </summary>
    [Fact]
    public async Task DisposeAsync_ProviderWithRunningBus_StopsTheBusAndReportsEveryMessageHandledOrUnfinished()
    {
        const int Events = 100;
        var services = TestBus.CreateServices(b => b.AddEventHandler<Beat, GatedBeatHandler>(), null, out var undelivered);
        var provider = services.BuildServiceProvider();
        var control = provider.GetRequiredService<IEventBusControl>();
        await control.StartAsync();
        for (var i = 0; i < Events; i++)
        {
            await provider.GetRequiredService<IEventBus>().PublishAsync(new Beat(i));
        }

        var handled = provider.GetRequiredService<Recorder<GatedBeatHandler, int>>();
        var gate = provider.GetRequiredService<Gate<GatedBeatHandler>>();
        await provider.GetRequiredService<Recorder<GatedBeatHandler, string>>().WaitForCountAsync(1); // beat 0 in flight, 99 buffered
        var disposing = provider.DisposeAsync().AsTask();
        gate.Open();
        await disposing.Within();
        var report = await control.StopAsync(); // the report of the stop the dispose did

        control.IsRunning.Should().BeFalse();
        undelivered.Items.Where(u => u.Reason == UndeliveredReason.HandlerFailed)
            .Select(u => $"{u.Message}: {u.Exception?.GetType().Name} {u.Exception?.Message}").Should().BeEmpty("no handler failed; only the container was disposed");
        (handled.Count + report.Unfinished.Count).Should().Be(Events, "every message is handled or reported unfinished");
    }

    /// <summary>
    /// A console app or test that disposes its container with <c>using</c> must not crash: the bus is the container's singleton,
    /// so it must be disposable synchronously too (the container throws for services that are only <see cref="IAsyncDisposable"/>).
    /// </summary>
    [Fact]
    public async Task Dispose_ProviderDisposedSynchronously_StopsTheBusWithoutThrowing()
    {
        var services = TestBus.CreateServices(b => b.AddEventHandler<Beat, BeatHandler>(), null, out _);
        var provider = services.BuildServiceProvider();
        var control = provider.GetRequiredService<IEventBusControl>();
        await control.StartAsync();
        await provider.GetRequiredService<IEventBus>().PublishAsync(new Beat(1));
        try
        {
            provider.Invoking(p => p.Dispose()).Should().NotThrow();
            control.IsRunning.Should().BeFalse();
        }
        finally
        {
            await control.StopAsync(); // do not leave workers behind if the dispose failed
        }
    }

    [Fact]
    public async Task HostStopAsync_ServiceRegisteredAfterTheBusPublishesWhileStopping_TheBusStillDeliversIt()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        TestBus.AddTestServices(builder.Services, out var undelivered);
        builder.Services.AddEventBus(b => b.Configure(o => o.OnUndelivered = undelivered.Add).AddEventHandler<Beat, BeatHandler>());
        builder.Services.AddHostedService<FarewellPublisher>(); // after AddEventBus: stopped before the bus
        using var host = builder.Build();
        await host.StartAsync().Within();

        await host.StopAsync().Within();

        host.Services.GetRequiredService<Recorder<FarewellPublisher, Exception?>>().Items.Should().Equal([null], "the publish succeeded");
        host.Services.GetRequiredService<Recorder<BeatHandler, int>>().Items.Should().Equal([-1], "the bus's stop delivered the farewell");
        undelivered.Items.Should().BeEmpty();
    }

    [Fact]
    public async Task HostStopAsync_ServiceRegisteredBeforeTheBusPublishesWhileStopping_ThrowsObjectDisposedNamingTheOrder()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        TestBus.AddTestServices(builder.Services, out _);
        builder.Services.AddHostedService<FarewellPublisher>(); // before AddEventBus: stopped after the bus
        builder.Services.AddEventBus(b => b.AddEventHandler<Beat, BeatHandler>());
        using var host = builder.Build();
        await host.StartAsync().Within();

        await host.StopAsync().Within();

        host.Services.GetRequiredService<Recorder<FarewellPublisher, Exception?>>().Items.Should().ContainSingle()
            .Which.Should().BeOfType<ObjectDisposedException>()
            .Which.Message.Should().Contain("must be registered after AddEventBus");
        host.Services.GetRequiredService<Recorder<BeatHandler, int>>().Items.Should().BeEmpty();
    }

    /// <summary>Publishes a farewell beat from its own StopAsync and records what the publish did (null: it succeeded).</summary>
    public sealed class FarewellPublisher(IEventBus bus, Recorder<FarewellPublisher, Exception?> outcome) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public async Task StopAsync(CancellationToken cancellationToken)
        {
            try
            {
                await bus.PublishAsync(new Beat(-1), cancellationToken);
                outcome.Add(null);
            }
            catch (ObjectDisposedException e)
            {
                outcome.Add(e);
            }
        }
    }

    public sealed record Beat(int N);

    public sealed class BeatHandler(Recorder<BeatHandler, int> log) : IEventHandler<Beat>
    {
        public ValueTask HandleAsync(Beat @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event.N);
            return default;
        }
    }

    public sealed class GatedBeatHandler(Gate<GatedBeatHandler> gate, Recorder<GatedBeatHandler, string> started, Recorder<GatedBeatHandler, int> handled) : IEventHandler<Beat>
    {
        public async ValueTask HandleAsync(Beat @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add($"started {@event.N}");
            await gate.WaitAsync(cancellationToken);
            handled.Add(@event.N);
        }
    }

    public sealed class SlowBeatHandler(Recorder<SlowBeatHandler, int> log) : IEventHandler<Beat>
    {
        public async ValueTask HandleAsync(Beat @event, MessageContext context, CancellationToken cancellationToken)
        {
            await Task.Yield();
            log.Add(@event.N);
        }
    }
}
