using EventBus.Tests.Infrastructure;
using EventBus.Tests.Queues;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Hosting;

/// <summary>
/// <see cref="EventBusOptions"/> through the options system: bound from <see cref="IConfiguration"/> with
/// <c>services.Configure&lt;EventBusOptions&gt;(section)</c>, combined with <see cref="EventBusBuilder.Configure"/> callbacks in
/// registration order, and validated at host start (<c>ValidateOnStart</c>) or on the bus's first resolution without a host.
/// </summary>
public sealed class EventBusOptionsBindingTests
{
    [Fact]
    public async Task Configure_ConfigurationSection_ScalarOptionsReachTheRunningBus()
    {
        var config = Config(
            ("EventBus:DefaultCapacity", "7"),
            ("EventBus:DefaultFullPolicy", "FailFast"),
            ("EventBus:QueueWorkers", "3"),
            ("EventBus:StopTimeout", "00:00:05"),
            ("EventBus:RequireKnownEventTypes", "false"),
            ("EventBus:DefaultHandlerTimeout", "00:00:04"),
            ("EventBus:DefaultDeadLetterCapacity", "50"),
            ("EventBus:StampInlineSends", "false"));
        await using var provider = BuildProvider(config, b => b
            .AddEventHandler<Tick, TickHandler>()
            .AddEventHandler<Tick, QueuedTickHandler>()
            .ConfigureSubscription<QueuedTickHandler>(o => o.Mode = DeliveryMode.Queue));
        var control = provider.GetRequiredService<IEventBusControl>();
        await control.StartAsync();

        var subscriptions = control.DescribeTopology().Topics.Single(t => t.MessageType == typeof(Tick)).Subscriptions;
        var broadcast = subscriptions.Single(s => s.HandlerType == typeof(TickHandler));
        var queue = subscriptions.Single(s => s.HandlerType == typeof(QueuedTickHandler));
        (broadcast.Mode, broadcast.Workers, broadcast.Capacity, broadcast.FullPolicy, broadcast.HandlerTimeout)
            .Should().Be((DeliveryMode.Broadcast, 1, 7, FullPolicy.FailFast, TimeSpan.FromSeconds(4)));
        (queue.Mode, queue.Workers, queue.Capacity, queue.FullPolicy, queue.HandlerTimeout)
            .Should().Be((DeliveryMode.Queue, 3, 7, FullPolicy.FailFast, TimeSpan.FromSeconds(4)));

        var publishUnknown = async () => await provider.GetRequiredService<IEventBus>().PublishAsync(new Unheard());
        await publishUnknown.Should().NotThrowAsync("RequireKnownEventTypes is bound to false");

        var bound = provider.GetRequiredService<IOptions<EventBusOptions>>().Value;
        (bound.StopTimeout, bound.DefaultDeadLetterCapacity, bound.StampInlineSends).Should().Be((TimeSpan.FromSeconds(5), 50, false));
        await control.StopAsync();
    }

    [Fact]
    public async Task Configure_ConfigurationSection_NestedDefaultRedeliveryIsBoundAndDrivesRedelivery()
    {
        var config = Config(
            ("EventBus:StopTimeout", "00:00:05"),
            ("EventBus:DefaultRedelivery:MaxDeliveries", "3"),
            ("EventBus:DefaultRedelivery:ImmediateRetries", "2"),
            ("EventBus:DefaultRedelivery:InitialDelay", "00:00:00.250"),
            ("EventBus:DefaultRedelivery:MaxDelay", "00:00:02"),
            ("EventBus:DefaultRedelivery:JitterFraction", "0"));
        await using var provider = BuildProvider(config, b => b.AddEventHandler<Tick, FailingHandler>());
        var control = provider.GetRequiredService<IEventBusControl>();
        await control.StartAsync();

        await provider.GetRequiredService<IEventBus>().PublishAsync(new Tick(1));

        // Two immediate retries after the first failure, then the policy's attempts are used up: no delayed attempt, no wait.
        (await provider.GetRequiredService<Recorder<FailingHandler, int>>().WaitForCountAsync(3)).Should().Equal(1, 2, 3);
        var deadLetters = provider.GetRequiredService<IDeadLetterQueue>();
        await Wait.UntilAsync(() => deadLetters.GetDeadLetters().Count == 1, "the event is dead-lettered");
        deadLetters.GetDeadLetters().Single().DeliveryCount.Should().Be(3);
        control.DescribeTopology().Topics.Single(t => t.MessageType == typeof(Tick)).Subscriptions.Single().MaxDeliveries.Should().Be(3);
        var redelivery = provider.GetRequiredService<IOptions<EventBusOptions>>().Value.DefaultRedelivery;
        (redelivery.InitialDelay, redelivery.MaxDelay, redelivery.JitterFraction)
            .Should().Be((TimeSpan.FromMilliseconds(250), TimeSpan.FromSeconds(2), 0d));
        await control.StopAsync();
    }

    [Fact]
    public async Task Configure_ConfigurationSection_BoundHandlerTimeoutAndGracePeriodAbandonAHandlerThatIgnoresCancellation()
    {
        var config = Config(("EventBus:DefaultHandlerTimeout", "00:00:04"), ("EventBus:HandlerTimeoutGracePeriod", "00:00:02"));
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var provider = BuildProvider(config, b => b.AddEventHandler<Tick, StubbornHandler>(), s => s.AddSingleton<TimeProvider>(clock));
        var control = provider.GetRequiredService<IEventBusControl>();
        var deadLetters = provider.GetRequiredService<IDeadLetterQueue>();
        await control.StartAsync();
        try
        {
            await provider.GetRequiredService<IEventBus>().PublishAsync(new Tick(1));
            await provider.GetRequiredService<Recorder<StubbornHandler, int>>().WaitForCountAsync(1);

            await FakeClock.AdvanceUntilAsync(clock, TimeSpan.FromSeconds(1), () => deadLetters.GetDeadLetters().Count > 0);

            var deadLetter = deadLetters.GetDeadLetters().Single();
            deadLetter.ExceptionType.Should().Be(typeof(TimeoutException).FullName);
            deadLetter.Reason.Should().Contain("timeout of 00:00:04").And.Contain("grace period of 00:00:02");
        }
        finally
        {
            provider.GetRequiredService<Gate<StubbornHandler>>().Open(); // let the abandoned handler end
        }

        await control.StopAsync();
    }

    [Fact]
    public async Task Configure_ConfigurationSection_BoundStopTimeoutEndsAStopThatCannotDrain()
    {
        var logged = new List<string>();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var provider = BuildProvider(
            Config(("EventBus:StopTimeout", "00:00:05")),
            b => b.AddEventHandler<Tick, GatedHandler>(),
            s => s.AddSingleton<TimeProvider>(clock).AddLogging(l => l.AddProvider(new ListLoggerProvider(logged))));
        var control = provider.GetRequiredService<IEventBusControl>();
        await control.StartAsync();
        await provider.GetRequiredService<IEventBus>().PublishAsync(new Tick(1));
        await provider.GetRequiredService<Recorder<GatedHandler, string>>().WaitForCountAsync(1); // the gate never opens

        var stopping = control.StopAsync();
        await FakeClock.AdvanceUntilAsync(clock, TimeSpan.FromSeconds(1), () => stopping.IsCompleted);

        (await stopping).Drained.Should().BeFalse();
        lock (logged)
        {
            logged.Should().ContainSingle(m => m.Contains("StopTimedOut", StringComparison.Ordinal)).Which.Should().Contain("after 00:00:05");
        }
    }

    [Fact]
    public async Task Configure_ConfigurationSection_BoundCapacityAndFailFastApplyToPublishes()
    {
        var config = Config(("EventBus:StopTimeout", "00:00:05"), ("EventBus:DefaultCapacity", "1"), ("EventBus:DefaultFullPolicy", "FailFast"));
        await using var provider = BuildProvider(config, b => b.AddEventHandler<Tick, GatedHandler>());
        var control = provider.GetRequiredService<IEventBusControl>();
        var bus = provider.GetRequiredService<IEventBus>();
        await control.StartAsync();
        await bus.PublishAsync(new Tick(0));
        await provider.GetRequiredService<Recorder<GatedHandler, string>>().WaitForCountAsync(1); // 0 in flight at the gate
        await bus.PublishAsync(new Tick(1)); // buffered: the buffer of capacity 1 is full

        var publish = async () => await bus.PublishAsync(new Tick(2));

        (await publish.Should().ThrowAsync<BufferFullException>()).Which.Capacity.Should().Be(1);
        provider.GetRequiredService<Gate<GatedHandler>>().Open();
        (await provider.GetRequiredService<Recorder<GatedHandler, int>>().WaitForCountAsync(2)).Should().Equal(0, 1);
        await control.StopAsync();
    }

    [Fact]
    public async Task Configure_CallbacksRegisteredAfterTheBinding_WinOverIt()
    {
        var config = Config(("EventBus:StopTimeout", "00:00:05"), ("EventBus:DefaultCapacity", "7"), ("EventBus:QueueWorkers", "3"), ("EventBus:DefaultFullPolicy", "FailFast"));
        var services = new ServiceCollection();
        TestBus.AddTestServices(services, out _);
        services.Configure<EventBusOptions>(o => o.DefaultFullPolicy = FullPolicy.DropNewest); // before the binding: overridden
        services.Configure<EventBusOptions>(config.GetSection("EventBus"));
        services.AddEventBus(b => b
            .Configure(o => o.DefaultCapacity = 9)
            .AddEventHandler<Tick, QueuedTickHandler>()
            .ConfigureSubscription<QueuedTickHandler>(o => o.Mode = DeliveryMode.Queue));
        services.Configure<EventBusOptions>(o => o.QueueWorkers = 2);
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });

        var subscription = provider.GetRequiredService<IEventBusControl>().DescribeTopology().Topics.Single().Subscriptions.Single();

        (subscription.Capacity, subscription.Workers, subscription.FullPolicy).Should().Be((9, 2, FullPolicy.FailFast));
    }

    [Fact]
    public async Task Configure_BindingRegisteredAfterAddEventBus_WinsOverTheBuildersCallback()
    {
        var config = Config(("EventBus:StopTimeout", "00:00:05"), ("EventBus:DefaultCapacity", "7"));
        var services = new ServiceCollection();
        TestBus.AddTestServices(services, out _);
        services.AddEventBus(b => b.Configure(o => o.DefaultCapacity = 9).AddEventHandler<Tick, TickHandler>());
        services.Configure<EventBusOptions>(config.GetSection("EventBus"));
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });

        var subscription = provider.GetRequiredService<IEventBusControl>().DescribeTopology().Topics.Single().Subscriptions.Single();

        subscription.Capacity.Should().Be(7);
    }

    [Fact]
    public async Task GetService_InvalidBoundValuesWithoutHost_ThrowsOneOptionsValidationExceptionWithTheRegisteredOptionsToo()
    {
        var config = Config(
            ("EventBus:DefaultCapacity", "0"),
            ("EventBus:QueueWorkers", "2000"),
            ("EventBus:StopTimeout", "-00:00:01"),
            ("EventBus:DefaultHandlerTimeout", "2.00:00:00"),
            ("EventBus:DefaultRedelivery:MaxDeliveries", "0"));
        await using var provider = BuildProvider(config, b => b
            .AddEventHandler<Tick, TickHandler>()
            .AddTopic<Tick>(o => o.Capacity = -5)
            .UseIdempotency(o => o.MaxEntries = 0));

        var resolve = () => provider.GetRequiredService<IEventBus>();

        var thrown = resolve.Should().Throw<OptionsValidationException>().Which;
        thrown.OptionsType.Should().Be<EventBusOptions>();
        thrown.Failures.Should().Equal(
            $"EventBusOptions.DefaultCapacity must be between 1 and {EventBusOptions.MaxCapacity}; it is 0.",
            $"EventBusOptions.QueueWorkers must be between 1 and {EventBusOptions.MaxWorkers}; it is 2000.",
            "RedeliveryOptions.MaxDeliveries of EventBusOptions.DefaultRedelivery must be between 1 and 1000; it is 0.",
            "EventBusOptions.DefaultHandlerTimeout must be between 00:00:00.001 and 1.00:00:00; it is 2.00:00:00.",
            "EventBusOptions.StopTimeout must be between 00:00:00 and 1.00:00:00; it is -00:00:01.",
            $"SubscriptionOptions.Capacity of topic '{typeof(Tick).FullName}' must be between 1 and {EventBusOptions.MaxCapacity}; it is -5.",
            "IdempotencyOptions.MaxEntries must be between 1 and 10000000; it is 0.");
        resolve.Should().Throw<OptionsValidationException>("a failed validation is not cached: every resolution reports it");
    }

    [Fact]
    public async Task StartAsync_GenericHostWithInvalidBoundValues_FailsAtStartBeforeAnyHostedServiceStarts()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddConfiguration(Config(("EventBus:DefaultCapacity", "0"), ("EventBus:DefaultFullPolicy", "FailFast"), ("EventBus:StopTimeout", "1.00:00:01")));
        TestBus.AddTestServices(builder.Services, out _);
        var probe = new StartProbe();
        builder.Services.AddSingleton<IHostedService>(probe); // registered first, so it would start first
        builder.Services.Configure<EventBusOptions>(builder.Configuration.GetSection("EventBus"));
        builder.Services.AddEventBus(b => b
            .AddEventHandler<Tick, TickHandler>()
            .ConfigureSubscription<TickHandler>(o => o.Workers = 4));
        using var host = builder.Build();

        var start = () => host.StartAsync().Within();

        var thrown = (await start.Should().ThrowAsync<OptionsValidationException>()).Which;
        thrown.Failures.Should().HaveCount(3);
        thrown.Failures.Should().ContainSingle(f => f.Contains("EventBusOptions.DefaultCapacity", StringComparison.Ordinal)).Which.Should().EndWith("it is 0.");
        thrown.Failures.Should().ContainSingle(f => f.Contains("EventBusOptions.StopTimeout", StringComparison.Ordinal)).Which.Should().EndWith("it is 1.00:00:01.");
        thrown.Failures.Should().ContainSingle(f => f.Contains("Workers of subscription", StringComparison.Ordinal))
            .Which.Should().Contain(typeof(TickHandler).FullName).And.Contain("is 4");
        probe.Started.Should().BeFalse("the host fails before it starts any hosted service");
    }

    [Fact]
    public async Task AddEventBus_InvalidBoundValue_TheHostsStartupValidatorReportsIt()
    {
        // ValidateOnStart registers the options with IStartupValidator, which a generic host (and any host that honours it)
        // runs at start, whether or not something resolves the bus then.
        await using var provider = BuildProvider(Config(("EventBus:QueueWorkers", "0")), b => b.AddEventHandler<Tick, TickHandler>());
        var validator = provider.GetRequiredService<IStartupValidator>();

        var validate = validator.Validate;

        validate.Should().Throw<OptionsValidationException>().Which.Failures.Should().Equal(
            $"EventBusOptions.QueueWorkers must be between 1 and {EventBusOptions.MaxWorkers}; it is 0.");
    }

    [Fact]
    public async Task StartAsync_GenericHostWithValidBoundValues_RunsTheBusWithThem()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration.AddConfiguration(Config(("EventBus:DefaultCapacity", "7"), ("EventBus:DefaultFullPolicy", "FailFast"), ("EventBus:StopTimeout", "00:00:05")));
        TestBus.AddTestServices(builder.Services, out _);
        builder.Services.Configure<EventBusOptions>(builder.Configuration.GetSection("EventBus"));
        builder.Services.AddEventBus(b => b.AddEventHandler<Tick, TickHandler>());
        using var host = builder.Build();

        await host.StartAsync().Within();
        await host.Services.GetRequiredService<IEventBus>().PublishAsync(new Tick(1));
        (await host.Services.GetRequiredService<Recorder<TickHandler, int>>().WaitForCountAsync(1)).Should().Equal(1);
        var subscription = host.Services.GetRequiredService<IEventBusControl>().DescribeTopology().Topics.Single().Subscriptions.Single();
        await host.StopAsync().Within();

        (subscription.Capacity, subscription.FullPolicy).Should().Be((7, FullPolicy.FailFast));
    }

    [Fact]
    public async Task GetService_BoundValueTheBinderCannotConvert_ThrowsTheBindersErrorNamingTheKeyAndValue()
    {
        var config = Config(("EventBus:DefaultFullPolicy", "Sometimes"));
        await using var provider = BuildProvider(config, b => b.AddEventHandler<Tick, TickHandler>());

        var resolve = () => provider.GetRequiredService<IEventBus>();

        resolve.Should().Throw<InvalidOperationException>().Which.Message.Should().Contain("EventBus:DefaultFullPolicy").And.Contain("Sometimes");
    }

    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build();

    /// <summary>A container with the section "EventBus" bound before the bus is added (as an application usually does).</summary>
    private static ServiceProvider BuildProvider(IConfiguration config, Action<EventBusBuilder> configure, Action<IServiceCollection>? services = null)
    {
        var collection = new ServiceCollection();
        TestBus.AddTestServices(collection, out _);
        services?.Invoke(collection);
        collection.Configure<EventBusOptions>(config.GetSection("EventBus"));
        collection.AddEventBus(configure);
        return collection.BuildServiceProvider(new ServiceProviderOptions { ValidateScopes = true });
    }

    public sealed record Tick(int N);

    public sealed record Unheard;

    public sealed class TickHandler(Recorder<TickHandler, int> handled) : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add(@event.N);
            return default;
        }
    }

    public sealed class QueuedTickHandler : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken) => default;
    }

    public sealed class FailingHandler(Recorder<FailingHandler, int> attempts) : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            attempts.Add(context.DeliveryCount);
            throw new InvalidOperationException("The handler always fails.");
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

    /// <summary>Ignores its cancellation token: waits for its gate however long it takes.</summary>
    public sealed class StubbornHandler(Gate<StubbornHandler> gate, Recorder<StubbornHandler, int> started) : IEventHandler<Tick>
    {
        public async ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add(@event.N);
            await gate.WaitAsync(CancellationToken.None);
        }
    }

    /// <summary>A hosted service that records whether the host started it.</summary>
    private sealed class StartProbe : IHostedService
    {
        public bool Started { get; private set; }

        public Task StartAsync(CancellationToken cancellationToken)
        {
            Started = true;
            return Task.CompletedTask;
        }

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
