using EventBus.Tests.Infrastructure;

namespace EventBus.Tests;

/// <summary><see cref="IEventBus"/> refuses bad input with clear exceptions, and nothing of a refused publish is delivered.</summary>
public sealed class PublishInputTests
{
    [Fact]
    public async Task PublishAsync_NullEvent_ThrowsArgumentNullException()
    {
        await using var bus = await StartAsync();

        var publish = async () => await bus.Bus.PublishAsync<Known>(null!);
        var publishWithOptions = async () => await bus.Bus.PublishAsync<Known>(null!, new PublishOptions());

        await publish.Should().ThrowAsync<ArgumentNullException>();
        await publishWithOptions.Should().ThrowAsync<ArgumentNullException>();
    }

    [Fact]
    public async Task PublishBatchAsync_NullBatch_ThrowsArgumentNullException()
    {
        await using var bus = await StartAsync();

        var publish = async () => await bus.Bus.PublishBatchAsync<Known>(null!);

        (await publish.Should().ThrowAsync<ArgumentNullException>()).Which.ParamName.Should().Be("events");
    }

    [Fact]
    public async Task PublishBatchAsync_NullItem_ThrowsArgumentNullExceptionAndDeliversNone()
    {
        await using var bus = await StartAsync();

        var publish = async () => await bus.Bus.PublishBatchAsync([new Known(1), null!, new Known(3)]);

        await publish.Should().ThrowAsync<ArgumentNullException>();
        await bus.Bus.PublishAsync(new Known(4));
        (await bus.Log<KnownHandler, int>().WaitForCountAsync(1)).Should().Equal(4);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<KnownHandler, int>().Items.Should().Equal([4], "no item of the refused batch was delivered");
    }

    [Fact]
    public async Task PublishAsync_UnknownEventType_ThrowsUnknownMessageTypeExceptionNamingTheType()
    {
        await using var bus = await StartAsync();

        var publish = async () => await bus.Bus.PublishAsync(new Unknown());
        var batch = async () => await bus.Bus.PublishBatchAsync([new Unknown()]);

        var thrown = await publish.Should().ThrowAsync<UnknownMessageTypeException>().WithMessage($"*{typeof(Unknown).FullName}*");
        thrown.Which.MessageType.Should().Be<Unknown>();
        await batch.Should().ThrowAsync<UnknownMessageTypeException>().WithMessage($"*{typeof(Unknown).FullName}*");
    }

    [Fact]
    public async Task PublishAsync_UnknownEventTypeWithRequireKnownEventTypesOff_IsAcceptedAndReachesNobody()
    {
        await using var bus = await TestBus.StartAsync(b => b.Configure(o => o.RequireKnownEventTypes = false).AddEventHandler<Known, KnownHandler>());

        await bus.Bus.PublishAsync(new Unknown()).AsTask().Within();

        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<KnownHandler, int>().Count.Should().Be(0);
    }

    [Fact]
    public async Task PublishAsync_Command_ThrowsArgumentExceptionAndTheHandlerDoesNotRun()
    {
        await using var bus = await StartAsync();

        var publish = async () => await bus.Bus.PublishAsync(new DoSomething());
        var batch = async () => await bus.Bus.PublishBatchAsync([new DoSomething()]);
        var publishWithResult = async () => await bus.Bus.PublishAsync(new Compute(2));
        var publishWithResultAsObject = async () => await bus.Bus.PublishAsync<object>(new Compute(2)); // found by its runtime type
        var batchWithResult = async () => await bus.Bus.PublishBatchAsync([new Compute(2)]);

        await publish.Should().ThrowExactlyAsync<ArgumentException>().WithMessage($"*{typeof(DoSomething).FullName}*command*");
        await batch.Should().ThrowExactlyAsync<ArgumentException>().WithMessage($"*{typeof(DoSomething).FullName}*command*");
        await publishWithResult.Should().ThrowExactlyAsync<ArgumentException>().WithMessage($"*{typeof(Compute).FullName}*command*");
        await publishWithResultAsObject.Should().ThrowExactlyAsync<ArgumentException>().WithMessage($"*{typeof(Compute).FullName}*command*");
        await batchWithResult.Should().ThrowExactlyAsync<ArgumentException>().WithMessage($"*{typeof(Compute).FullName}*command*");
        bus.Bus.Invoking(b => b.AsChannelWriter<Compute>()).Should().ThrowExactly<ArgumentException>().WithMessage($"*{typeof(Compute).FullName}*command*");
        await bus.Bus.PublishAsync(new Known(1));
        (await bus.Log<KnownHandler, int>().WaitForCountAsync(1)).Should().Equal([1], "an event is published as before");
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Get<Recorder<DoSomethingHandler, int>>().Count.Should().Be(0);
        bus.Get<Recorder<ComputeHandler, int>>().Count.Should().Be(0);
    }

    private static Task<TestBus> StartAsync() =>
        TestBus.StartAsync(b => b.AddEventHandler<Known, KnownHandler>().AddCommandHandler<DoSomething, DoSomethingHandler>().AddCommandHandler<Compute, int, ComputeHandler>());

    public sealed record Known(int N);

    public sealed record Unknown;

    public sealed record DoSomething : ICommand;

    public sealed record Compute(int N) : ICommand<int>;

    public sealed class KnownHandler(Recorder<KnownHandler, int> log) : IEventHandler<Known>
    {
        public ValueTask HandleAsync(Known @event, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(@event.N);
            return default;
        }
    }

    public sealed class DoSomethingHandler(Recorder<DoSomethingHandler, int> log) : ICommandHandler<DoSomething>
    {
        public ValueTask<CommandResult> HandleAsync(DoSomething command, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(1);
            return ValueTask.FromResult(CommandResult.Accepted);
        }
    }

    public sealed class ComputeHandler(Recorder<ComputeHandler, int> log) : ICommandHandler<Compute, int>
    {
        public ValueTask<CommandResult<int>> HandleAsync(Compute command, MessageContext context, CancellationToken cancellationToken)
        {
            log.Add(command.N);
            return ValueTask.FromResult<CommandResult<int>>(command.N * command.N);
        }
    }
}
