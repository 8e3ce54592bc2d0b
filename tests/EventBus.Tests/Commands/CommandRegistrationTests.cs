using EventBus.Tests.BrokenScanFixtures;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Commands;

/// <summary>Exactly one handler per command type, checked when the bus is built (resolving <see cref="IEventBus"/>).</summary>
public sealed class CommandRegistrationTests
{
    [Fact]
    public async Task GetService_TwoHandlersForOneCommand_ThrowsConfigurationExceptionNamingTheCommandAndBothHandlers()
    {
        await using var bus = TestBus.Build(b => b
            .AddCommandHandler<Pay, PayHandler>()
            .AddCommandHandler<Pay, PayAuditHandler>());

        var resolve = () => bus.Bus;

        var thrown = resolve.Should().Throw<EventBusConfigurationException>().Which;
        thrown.Problems.Should().ContainSingle().Which.Should()
            .Contain(typeof(Pay).FullName).And.Contain(typeof(PayHandler).FullName).And.Contain(typeof(PayAuditHandler).FullName);
        thrown.Message.Should().Contain(typeof(Pay).FullName).And.Contain(typeof(PayHandler).FullName).And.Contain(typeof(PayAuditHandler).FullName);
    }

    [Fact]
    public async Task GetService_ScannedAssemblyWithCommandWithoutHandlerAndCommandWithTwo_ThrowsOneExceptionListingEveryProblem()
    {
        await using var bus = TestBus.Build(b => b.AddHandlersFromAssembly(typeof(ShipOrder).Assembly));

        var resolve = () => bus.Get<IEventBus>();

        var thrown = resolve.Should().Throw<EventBusConfigurationException>().Which;
        thrown.Problems.Should().HaveCount(3);
        thrown.Problems.Should().ContainSingle(p => p.Contains(typeof(ShipOrder).FullName!, StringComparison.Ordinal))
            .Which.Should().Contain("no handler");
        thrown.Problems.Should().ContainSingle(p => p.Contains(typeof(QuoteOrder).FullName!, StringComparison.Ordinal))
            .Which.Should().Contain("no handler");
        thrown.Problems.Should().ContainSingle(p => p.Contains(typeof(CancelOrder).FullName!, StringComparison.Ordinal))
            .Which.Should().Contain(typeof(CancelOrderHandler).FullName).And.Contain(typeof(CancelOrderAuditHandler).FullName);
        thrown.Message.Should().Contain(typeof(ShipOrder).FullName).And.Contain(typeof(CancelOrder).FullName);
    }

    [Fact]
    public async Task GetService_ScannedCommandWithoutHandler_ResolvingAnyBusInterfaceThrows()
    {
        await using var bus = TestBus.Build(b => b.AddHandlersFromAssembly(typeof(ShipOrder).Assembly));

        bus.Invoking(b => b.Get<ICommandBus>()).Should().Throw<EventBusConfigurationException>();
        bus.Invoking(b => b.Get<IEventBusControl>()).Should().Throw<EventBusConfigurationException>();
    }

    [Fact]
    public async Task AddCommandHandler_SameHandlerTwice_RegistersItOnce()
    {
        var services = new ServiceCollection();

        services.AddEventBus(b => b.AddCommandHandler<Pay, PayHandler>().AddCommandHandler<Pay, PayHandler>());
        await using var provider = services.BuildServiceProvider();

        provider.Invoking(p => p.GetRequiredService<ICommandBus>()).Should().NotThrow();
        services.Count(d => d.ServiceType == typeof(PayHandler)).Should().Be(1);
    }

    [Fact]
    public void AddEventHandler_CommandType_ThrowsArgumentException()
    {
        var services = new ServiceCollection();

        var add = () => services.AddEventBus(b => b.AddEventHandler<Pay, PayAsEventHandler>());

        add.Should().Throw<ArgumentException>().WithMessage($"*{typeof(Pay).FullName}*command*");
    }

    [Fact]
    public void AddEventHandlerOrAddStream_CommandWithResultType_ThrowsArgumentException()
    {
        var services = new ServiceCollection();

        var handler = () => services.AddEventBus(b => b.AddEventHandler<Quote, QuoteAsEventHandler>());
        var stream = () => services.AddEventBus(b => b.AddStream<Quote>());

        handler.Should().Throw<ArgumentException>().WithMessage($"*{typeof(Quote).FullName}*command*");
        stream.Should().Throw<ArgumentException>().WithMessage($"*{typeof(Quote).FullName}*cannot be a stream*");
    }

    public sealed record Pay(decimal Amount) : ICommand;

    public sealed record Quote(string Sku) : ICommand<decimal>;

    public sealed class QuoteAsEventHandler : IEventHandler<Quote>
    {
        public ValueTask HandleAsync(Quote @event, MessageContext context, CancellationToken cancellationToken) => default;
    }

    public sealed class PayHandler : ICommandHandler<Pay>
    {
        public ValueTask<CommandResult> HandleAsync(Pay command, MessageContext context, CancellationToken cancellationToken) => ValueTask.FromResult(CommandResult.Accepted);
    }

    public sealed class PayAuditHandler : ICommandHandler<Pay>
    {
        public ValueTask<CommandResult> HandleAsync(Pay command, MessageContext context, CancellationToken cancellationToken) => ValueTask.FromResult(CommandResult.Accepted);
    }

    public sealed class PayAsEventHandler : IEventHandler<Pay>
    {
        public ValueTask HandleAsync(Pay @event, MessageContext context, CancellationToken cancellationToken) => default;
    }
}
