using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.Options;

namespace EventBus.Tests.Hosting;

/// <summary>Options are validated when the bus is built; one exception lists every invalid option with its value.</summary>
public sealed class OptionsValidationTests
{
    [Fact]
    public async Task GetService_SeveralInvalidOptions_ThrowsOneOptionsValidationExceptionListingEachOptionWithItsValue()
    {
        await using var bus = TestBus.Build(b => b
            .AddEventHandler<Signal, SignalHandler>()
            .Configure(o =>
            {
                o.DefaultCapacity = 0;
                o.QueueWorkers = -1;
                o.StopTimeout = TimeSpan.FromSeconds(-1);
            })
            .ConfigureSubscription<SignalHandler>(o =>
            {
                o.Mode = DeliveryMode.Broadcast;
                o.Workers = 4;
            }));

        var resolve = () => bus.Bus;

        var thrown = resolve.Should().Throw<OptionsValidationException>().Which;
        thrown.Failures.Should().HaveCount(4);
        thrown.Failures.Should().ContainSingle(f => f.Contains("DefaultCapacity", StringComparison.Ordinal)).Which.Should().Contain("it is 0");
        thrown.Failures.Should().ContainSingle(f => f.Contains("QueueWorkers", StringComparison.Ordinal)).Which.Should().Contain("it is -1");
        thrown.Failures.Should().ContainSingle(f => f.Contains("StopTimeout", StringComparison.Ordinal)).Which.Should().Contain("-00:00:01");
        thrown.Failures.Should().ContainSingle(f => f.Contains("Workers of subscription", StringComparison.Ordinal))
            .Which.Should().Contain(typeof(SignalHandler).FullName).And.Contain("4").And.Contain("Broadcast");
        thrown.Message.Should().Contain("DefaultCapacity").And.Contain("QueueWorkers").And.Contain("StopTimeout").And.Contain("Workers of subscription");
    }

    [Fact]
    public async Task GetService_WorkersAboveOneWithDefaultBroadcastMode_ThrowsNamingTheSubscriptionAndValue()
    {
        await using var bus = TestBus.Build(b => b
            .AddEventHandler<Signal, SignalHandler>()
            .ConfigureSubscription<SignalHandler>(o => o.Workers = 4));

        var resolve = () => bus.Bus;

        var thrown = resolve.Should().Throw<Exception>().Which;
        thrown.Should().Match(e => e is OptionsValidationException || e is EventBusConfigurationException);
        thrown.Message.Should().Contain(typeof(SignalHandler).FullName).And.Contain("4").And.Contain("Broadcast");
    }

    [Fact]
    public async Task GetService_WorkersAboveOneForHandlerOfAnInterfaceInDefaultBroadcast_FailsAtStartUpNotAtFirstPublish()
    {
        await using var bus = TestBus.Build(b => b
            .AddEventHandler<ISignal, AnySignalHandler>()
            .ConfigureSubscription<AnySignalHandler>(o => o.Workers = 4));

        var resolve = () => bus.Bus;

        // The invalid combination is known at start-up even though the handler's topics (the concrete ISignal types) are created
        // on first publish; reporting it only then turns a configuration error into a runtime failure of every publish.
        var thrown = resolve.Should().Throw<Exception>().Which;
        thrown.Should().Match(e => e is OptionsValidationException || e is EventBusConfigurationException);
        thrown.Message.Should().Contain(typeof(AnySignalHandler).FullName).And.Contain("4");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(EventBusOptions.MaxCapacity + 1)]
    public async Task GetService_TopicCapacityOutOfRange_ThrowsNamingTopicAndValue(int capacity)
    {
        await using var bus = TestBus.Build(b => b
            .AddEventHandler<Signal, SignalHandler>()
            .AddTopic<Signal>(o => o.Capacity = capacity));

        var resolve = () => bus.Bus;

        resolve.Should().Throw<OptionsValidationException>().Which.Failures.Should().ContainSingle()
            .Which.Should().Contain("Capacity").And.Contain(typeof(Signal).FullName).And.Contain($"it is {capacity}");
    }

    [Fact]
    public async Task GetService_UndefinedEnumValues_ThrowsNamingTheValue()
    {
        await using var bus = TestBus.Build(b => b
            .AddEventHandler<Signal, SignalHandler>()
            .Configure(o => o.DefaultFullPolicy = (FullPolicy)42)
            .ConfigureSubscription<SignalHandler>(o => o.Mode = (DeliveryMode)7));

        var resolve = () => bus.Bus;

        var failures = resolve.Should().Throw<OptionsValidationException>().Which.Failures;
        failures.Should().HaveCount(2);
        failures.Should().ContainSingle(f => f.Contains("DefaultFullPolicy", StringComparison.Ordinal)).Which.Should().Contain("42");
        failures.Should().ContainSingle(f => f.Contains("Mode", StringComparison.Ordinal)).Which.Should().Contain("7");
    }

    [Fact]
    public async Task GetService_BoundaryValues_AreValid()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Signal, SignalHandler>()
            .Configure(o =>
            {
                o.DefaultCapacity = 1;
                o.QueueWorkers = EventBusOptions.MaxWorkers;
                o.StopTimeout = TimeSpan.Zero;
            }));

        bus.Snapshot<SignalHandler>().Capacity.Should().Be(1);
    }

    public interface ISignal;

    public sealed record Signal(int N) : ISignal;

    public sealed class AnySignalHandler : IEventHandler<ISignal>
    {
        public ValueTask HandleAsync(ISignal @event, MessageContext context, CancellationToken cancellationToken) => default;
    }

    public sealed class SignalHandler : IEventHandler<Signal>
    {
        public ValueTask HandleAsync(Signal @event, MessageContext context, CancellationToken cancellationToken) => default;
    }
}
