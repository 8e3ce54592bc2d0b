using System.Diagnostics;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Handlers;

/// <summary>Middleware: registration order (first is outermost), per-type middleware, resolution from the delivery scope, commands.</summary>
public sealed class MiddlewareTests
{
    [Fact]
    public async Task UseMiddleware_TwoMiddleware_FirstRegisteredIsOutermost()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .UseMiddleware<OuterMiddleware>()
            .UseMiddleware<InnerMiddleware>()
            .AddEventHandler<Ping, JournalingPingHandler>());

        await bus.Bus.PublishAsync(new Ping(1));

        (await bus.Get<Recorder<string>>().WaitForCountAsync(5)).Should().Equal(
            "outer before Ping", "inner before Ping", "handler Ping 1", "inner after Ping", "outer after Ping");
    }

    [Fact]
    public async Task MessageMiddlewareOfT_OtherMessageTypes_PassThroughUntouched()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .UseMiddleware<PingOnlyMiddleware>()
            .AddEventHandler<Ping, JournalingPingHandler>()
            .AddEventHandler<Pong, JournalingPongHandler>());
        var journal = bus.Get<Recorder<string>>();

        await bus.Bus.PublishAsync(new Pong(1));
        await journal.WaitForCountAsync(1);
        await bus.Bus.PublishAsync(new Ping(2));
        await journal.WaitForCountAsync(4);

        journal.Items.Should().Equal("handler Pong 1", "ping-only before 2", "handler Ping 2", "ping-only after 2");
    }

    [Fact]
    public async Task UseMiddleware_ScopedMiddleware_ResolvedFromTheDeliveryScope()
    {
        const int Events = 20;
        await using var bus = await TestBus.StartAsync(b => b
            .UseMiddleware<ScopeProbingMiddleware>(ServiceLifetime.Scoped)
            .AddEventHandler<Ping, ScopeProbingHandler>(ServiceLifetime.Scoped));

        for (var i = 0; i < Events; i++)
        {
            await bus.Bus.PublishAsync(new Ping(i));
        }

        var middlewareProbes = await bus.Log<ScopeProbingMiddleware, int>().WaitForCountAsync(Events);
        var handlerProbes = await bus.Log<ScopeProbingHandler, int>().WaitForCountAsync(Events);

        handlerProbes.Should().Equal(middlewareProbes, "middleware and handler of one delivery share its scope");
        middlewareProbes.Should().OnlyHaveUniqueItems("each delivery has its own scope");
    }

    [Fact]
    public async Task UseMiddleware_TransientMiddlewareWithSingletonHandler_MiddlewareStillGetsAScopePerDelivery()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .UseMiddleware<ScopeProbingMiddleware>()
            .AddEventHandler<Ping, JournalingPingHandler>(ServiceLifetime.Singleton));

        for (var i = 0; i < 5; i++)
        {
            await bus.Bus.PublishAsync(new Ping(i));
        }

        (await bus.Log<ScopeProbingMiddleware, int>().WaitForCountAsync(5)).Should().OnlyHaveUniqueItems();
        await bus.Get<ProbeTracker>().Disposed.WaitForCountAsync(5);
    }

    [Fact]
    public async Task UseMiddleware_SendAsync_RunsAroundTheCommandHandler()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .UseMiddleware<OuterMiddleware>()
            .UseMiddleware<InnerMiddleware>()
            .AddCommandHandler<Double, int, DoubleHandler>());

        var result = await bus.Commands.SendAsync(new Double(21));

        result.Value.Should().Be(42);
        bus.Get<Recorder<string>>().Items.Should().Equal(
            "outer before Double", "inner before Double", "handler Double 21", "inner after Double", "outer after Double");
    }

    [Fact]
    public async Task UseMiddleware_EnqueueAsync_RunsAroundTheQueuedCommandHandler()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .UseMiddleware<OuterMiddleware>()
            .AddCommandHandler<Double, int, DoubleHandler>());

        await bus.Commands.EnqueueAsync(new Double(1));

        (await bus.Get<Recorder<string>>().WaitForCountAsync(3)).Should().Equal("outer before Double", "handler Double 1", "outer after Double");
    }

    [Theory]
    [InlineData(ServiceLifetime.Singleton)]
    [InlineData(ServiceLifetime.Scoped)]
    public async Task HandleAsync_NoMiddleware_HandlerCalledDirectlyWithoutAPipeline(ServiceLifetime lifetime)
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Ping, StackCapturingHandler>(lifetime));

        await bus.Bus.PublishAsync(new Ping(1));

        var frames = (await bus.Log<StackCapturingHandler, Type?[]>().WaitForCountAsync(1)).Single();
        frames.Should().NotContain(t => IsPipeline(t), "no middleware means no pipeline around the handler");
    }

    [Fact]
    public async Task HandleAsync_WithMiddleware_HandlerCalledThroughThePipeline()
    {
        // The control for the test above: the probe does see the pipeline when there is one.
        await using var bus = await TestBus.StartAsync(b => b.UseMiddleware<OuterMiddleware>().AddEventHandler<Ping, StackCapturingHandler>());

        await bus.Bus.PublishAsync(new Ping(1));

        var frames = (await bus.Log<StackCapturingHandler, Type?[]>().WaitForCountAsync(1)).Single();
        frames.Should().Contain(t => IsPipeline(t));
    }

    [Fact]
    public void UseMiddleware_SameMiddlewareTwice_ThrowsArgumentException()
    {
        var services = new ServiceCollection();

        var add = () => services.AddEventBus(b => b.UseMiddleware<OuterMiddleware>().UseMiddleware<OuterMiddleware>());

        add.Should().Throw<ArgumentException>().WithMessage($"*{typeof(OuterMiddleware).FullName}*");
    }

    private static bool IsPipeline(Type? type) =>
        type is not null && (type == typeof(MiddlewarePipeline) || type.DeclaringType == typeof(MiddlewarePipeline) || typeof(IMessageMiddleware).IsAssignableFrom(type));

    public sealed record Ping(int N);

    public sealed record Pong(int N);

    public sealed record Double(int N) : ICommand<int>;

    public abstract class JournalingMiddleware(string name, Recorder<string> journal) : IMessageMiddleware
    {
        public async ValueTask InvokeAsync<TMessage>(TMessage message, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken)
        {
            journal.Add($"{name} before {message!.GetType().Name}");
            await next();
            journal.Add($"{name} after {message.GetType().Name}");
        }
    }

    public sealed class OuterMiddleware(Recorder<string> journal) : JournalingMiddleware("outer", journal);

    public sealed class InnerMiddleware(Recorder<string> journal) : JournalingMiddleware("inner", journal);

    public sealed class PingOnlyMiddleware(Recorder<string> journal) : MessageMiddleware<Ping>
    {
        protected override async ValueTask InvokeAsync(Ping message, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken)
        {
            journal.Add($"ping-only before {message.N}");
            await next();
            journal.Add($"ping-only after {message.N}");
        }
    }

    public sealed class ScopeProbingMiddleware(ScopedProbe probe, Recorder<ScopeProbingMiddleware, int> log) : IMessageMiddleware
    {
        public ValueTask InvokeAsync<TMessage>(TMessage message, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken)
        {
            log.Add(probe.Id);
            return next();
        }
    }

    public sealed class ScopeProbingHandler(ScopedProbe probe, Recorder<ScopeProbingHandler, int> log) : IEventHandler<Ping>
    {
        public ValueTask HandleAsync(Ping @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(probe.Id);
            return default;
        }
    }

    public sealed class JournalingPingHandler(Recorder<string> journal) : IEventHandler<Ping>
    {
        public ValueTask HandleAsync(Ping @event, MessageContext context, CancellationToken cancellationToken)
        {
            journal.Add($"handler Ping {@event.N}");
            return default;
        }
    }

    public sealed class JournalingPongHandler(Recorder<string> journal) : IEventHandler<Pong>
    {
        public ValueTask HandleAsync(Pong @event, MessageContext context, CancellationToken cancellationToken)
        {
            journal.Add($"handler Pong {@event.N}");
            return default;
        }
    }

    public sealed class DoubleHandler(Recorder<string> journal) : ICommandHandler<Double, int>
    {
        public ValueTask<CommandResult<int>> HandleAsync(Double command, MessageContext context, CancellationToken cancellationToken)
        {
            journal.Add($"handler Double {command.N}");
            return ValueTask.FromResult<CommandResult<int>>(command.N * 2);
        }
    }

    /// <summary>Records the declaring types of the synchronous call stack it is invoked on.</summary>
    public sealed class StackCapturingHandler(Recorder<StackCapturingHandler, Type?[]> log) : IEventHandler<Ping>
    {
        public ValueTask HandleAsync(Ping @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(new StackTrace().GetFrames().Select(f => f.GetMethod()?.DeclaringType).ToArray());
            return default;
        }
    }
}
