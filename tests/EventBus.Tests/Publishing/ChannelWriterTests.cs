using System.Threading.Channels;
using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Publishing;

/// <summary>
/// <see cref="IEventBus.AsChannelWriter{TEvent}(PublishOptions?)"/>: the bus as a <see cref="ChannelWriter{T}"/>. Tests that need a
/// full buffer first park event 0 in the gated handler (in flight), then fill its buffer, so buffer states are exact.
/// </summary>
public sealed class ChannelWriterTests
{
    private const int Capacity = 4;

    [Fact]
    public async Task WriteAsync_ManyEvents_HandlersReceiveThemInWriteOrderWithTheWritersOptions()
    {
        const int Events = 1_000;
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Tick, ContextHandler>());
        var writer = bus.Bus.AsChannelWriter<Tick>(new PublishOptions { CorrelationId = "flow-1" });

        for (var i = 0; i < Events; i++)
        {
            await writer.WriteAsync(new Tick(i));
        }

        var seen = await bus.Log<ContextHandler, (int N, string? CorrelationId, MessageId Id)>().WaitForCountAsync(Events);
        seen.Select(s => s.N).Should().Equal(Enumerable.Range(0, Events));
        seen.Should().OnlyContain(s => s.CorrelationId == "flow-1");
        seen.Select(s => s.Id).Should().OnlyHaveUniqueItems("each written event gets a message id of its own");
    }

    [Fact]
    public async Task WriteAsync_WaitSubscriptionFull_WaitsUntilTheHandlerMakesRoom()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        var fifth = writer.WriteAsync(new Tick(5)).AsTask();

        fifth.IsCompleted.Should().BeFalse("1 event is in flight and 4 are buffered: the buffer is full");
        bus.Snapshot<GatedHandler>().Depth.Should().Be(Capacity);
        bus.Get<Gate<GatedHandler>>().Open();
        await fifth.Within();
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 5);
    }

    [Fact]
    public async Task WriteAsync_CancelledWhileWaitingForRoom_ThrowsAndPublishesNothing()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);
        using var cancellation = new CancellationTokenSource();

        var waiting = writer.WriteAsync(new Tick(5), cancellation.Token).AsTask();
        waiting.IsCompleted.Should().BeFalse();
        await cancellation.CancelAsync();

        (await waiting.Awaiting(t => t.Within()).Should().ThrowAsync<OperationCanceledException>()).Which.CancellationToken.Should().Be(cancellation.Token);
        bus.Get<Gate<GatedHandler>>().Open();
        await writer.WriteAsync(new Tick(6));
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 6);
    }

    [Fact]
    public async Task WriteAsync_FailFastSubscriptionFull_FailsWithBufferFullExceptionAndPublishesNothing()
    {
        await using var bus = await StartGatedAsync(FullPolicy.FailFast, withFreeSubscription: true);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        var write = writer.WriteAsync(new Tick(5));

        write.IsFaulted.Should().BeTrue("a write reports its outcome in its task, as a channel's does");
        var thrown = await write.AsTask().Awaiting(t => t).Should().ThrowAsync<BufferFullException>();
        thrown.Which.Subscription.Should().Be(typeof(GatedHandler).FullName);
        bus.Get<Gate<GatedHandler>>().Open();
        await bus.Log<GatedHandler, int>().WaitForCountAsync(5);
        await writer.WriteAsync(new Tick(6));
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(6)).Should().Equal([0, 1, 2, 3, 4, 6], "a write reaches every subscription or none");
    }

    [Fact]
    public async Task WriteAsync_DropNewestSubscriptionFull_CompletesAtOnceAndDropsTheEvent()
    {
        await using var bus = await StartGatedAsync(FullPolicy.DropNewest, withFreeSubscription: true);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        writer.WriteAsync(new Tick(5)).IsCompletedSuccessfully.Should().BeTrue("a drop policy never makes a writer wait");

        bus.Snapshot<GatedHandler>().Dropped.Should().Be(1);
        bus.Undelivered.Items.Should().ContainSingle().Which.Should().Match<UndeliveredMessage>(u => u.Reason == UndeliveredReason.DroppedNewest && ((Tick)u.Message).N == 5);
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 5);
        bus.Get<Gate<GatedHandler>>().Open();
    }

    [Theory]
    [InlineData(FullPolicy.Wait)]
    [InlineData(FullPolicy.FailFast)]
    public async Task TryWrite_SubscriptionThatKeepsEveryMessageIsFull_ReturnsFalseAndPublishesNothing(FullPolicy policy)
    {
        await using var bus = await StartGatedAsync(policy, withFreeSubscription: true);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        writer.TryWrite(new Tick(5)).Should().BeFalse();

        bus.Snapshot<GatedHandler>().Depth.Should().Be(Capacity);
        bus.Get<Gate<GatedHandler>>().Open();
        await bus.Log<GatedHandler, int>().WaitForCountAsync(5);
        await writer.WriteAsync(new Tick(6)); // a marker: once it is handled, everything written before it was too
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(6)).Should().Equal([0, 1, 2, 3, 4, 6], "the refused write reached no subscription");
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 6);
    }

    [Theory]
    [InlineData(FullPolicy.Wait)]
    [InlineData(FullPolicy.FailFast)]
    public async Task TryWrite_Room_ReturnsTrueAndPublishes(FullPolicy policy)
    {
        await using var bus = await StartGatedAsync(policy);
        var writer = bus.Bus.AsChannelWriter<Tick>();

        for (var i = 0; i <= Capacity; i++)
        {
            writer.TryWrite(new Tick(i)).Should().BeTrue("event {0} has room (one in flight, four buffered at most)", i);
            if (i == 0)
            {
                await bus.Log<GatedHandler, string>().WaitForCountAsync(1);
            }
        }

        writer.TryWrite(new Tick(99)).Should().BeFalse("the buffer is full now");
        bus.Get<Gate<GatedHandler>>().Open();
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(5)).Should().Equal(0, 1, 2, 3, 4);
    }

    [Theory]
    [InlineData(FullPolicy.DropNewest, new[] { 0, 1, 2, 3, 4 })]
    [InlineData(FullPolicy.DropOldest, new[] { 0, 2, 3, 4, 5 })]
    public async Task TryWrite_DropSubscriptionFull_ReturnsTrueAndDropsAsAPublishDoes(FullPolicy policy, int[] handled)
    {
        await using var bus = await StartGatedAsync(policy);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        writer.TryWrite(new Tick(5)).Should().BeTrue("the topic took the event; its subscription's policy dropped one");

        bus.Snapshot<GatedHandler>().Dropped.Should().Be(1);
        bus.Get<Gate<GatedHandler>>().Open();
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(5)).Should().Equal(handled);
    }

    [Fact]
    public async Task WaitToWriteAsync_Room_CompletesWithTrueAtOnce()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait);
        var writer = bus.Bus.AsChannelWriter<Tick>();

        var wait = writer.WaitToWriteAsync();

        wait.IsCompletedSuccessfully.Should().BeTrue();
        (await wait).Should().BeTrue();
    }

    [Theory]
    [InlineData(FullPolicy.Wait)]
    [InlineData(FullPolicy.FailFast)]
    public async Task WaitToWriteAsync_SubscriptionFull_CompletesWithTrueOnceTheHandlerMakesRoom(FullPolicy policy)
    {
        await using var bus = await StartGatedAsync(policy);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        var wait = writer.WaitToWriteAsync().AsTask();

        wait.IsCompleted.Should().BeFalse("TryWrite could not succeed now");
        bus.Get<Gate<GatedHandler>>().Open();
        (await wait.Within()).Should().BeTrue();
        writer.TryWrite(new Tick(5)).Should().BeTrue("nothing else writes: the room is still there");
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 5);
    }

    [Fact]
    public async Task WaitToWriteAsync_DropSubscriptionFull_CompletesWithTrueAtOnce()
    {
        await using var bus = await StartGatedAsync(FullPolicy.DropNewest);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        var wait = writer.WaitToWriteAsync();

        wait.IsCompletedSuccessfully.Should().BeTrue("a write to a dropping subscription always goes through");
        (await wait).Should().BeTrue();
        bus.Get<Gate<GatedHandler>>().Open();
    }

    [Fact]
    public async Task WaitToWriteAsync_CancelledWhileWaiting_ThrowsOperationCanceledException()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);
        using var cancellation = new CancellationTokenSource();

        var wait = writer.WaitToWriteAsync(cancellation.Token).AsTask();
        wait.IsCompleted.Should().BeFalse();
        await cancellation.CancelAsync();

        (await wait.Awaiting(t => t.Within()).Should().ThrowAsync<OperationCanceledException>()).Which.CancellationToken.Should().Be(cancellation.Token);
        writer.WaitToWriteAsync(cancellation.Token).IsCanceled.Should().BeTrue("a cancelled token cancels the wait before it starts");
        bus.Get<Gate<GatedHandler>>().Open();
    }

    [Fact]
    public async Task WaitToWriteAsync_WriterCompletedWhileWaiting_CompletesWithFalse()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        var wait = writer.WaitToWriteAsync().AsTask();
        wait.IsCompleted.Should().BeFalse();
        writer.Complete();

        (await wait.Within()).Should().BeFalse();
        bus.Get<Gate<GatedHandler>>().Open();
    }

    [Fact]
    public async Task WaitToWriteAsync_BusStopsWhileWaiting_CompletesWithFalse()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait, stopTimeout: TimeSpan.FromMilliseconds(100));
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        var wait = writer.WaitToWriteAsync().AsTask();
        wait.IsCompleted.Should().BeFalse();
        var report = await bus.Control.StopAsync();

        (await wait.Within()).Should().BeFalse();
        report.Unfinished.Should().HaveCount(1 + Capacity, "the gated handler never finished: its event in flight and the buffered ones are reported");
    }

    [Fact]
    public async Task TryComplete_ThenWrites_FailWithChannelClosedExceptionAndTheBusGoesOn()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Tick, FreeHandler>());
        var writer = bus.Bus.AsChannelWriter<Tick>();
        var other = bus.Bus.AsChannelWriter<Tick>();
        await writer.WriteAsync(new Tick(1));

        writer.TryComplete().Should().BeTrue();

        writer.TryComplete().Should().BeFalse("a writer completes once");
        await writer.Awaiting(w => w.WriteAsync(new Tick(2)).AsTask()).Should().ThrowExactlyAsync<ChannelClosedException>();
        writer.TryWrite(new Tick(3)).Should().BeFalse();
        (await writer.WaitToWriteAsync()).Should().BeFalse();
        await other.WriteAsync(new Tick(4));
        await bus.Bus.PublishAsync(new Tick(5));
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(3)).Should().Equal([1, 4, 5], "completing a writer closes that writer only");
        bus.Control.IsRunning.Should().BeTrue();
    }

    [Fact]
    public async Task TryComplete_WithError_WritesFailWithItInsideAndWaitToWriteThrowsIt()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Tick, FreeHandler>());
        var writer = bus.Bus.AsChannelWriter<Tick>();
        var error = new InvalidOperationException("the source failed");

        writer.TryComplete(error).Should().BeTrue();

        (await writer.Awaiting(w => w.WriteAsync(new Tick(1)).AsTask()).Should().ThrowExactlyAsync<ChannelClosedException>()).Which.InnerException.Should().BeSameAs(error);
        (await writer.Awaiting(w => w.WaitToWriteAsync().AsTask()).Should().ThrowAsync<InvalidOperationException>()).Which.Should().BeSameAs(error);
        writer.TryWrite(new Tick(2)).Should().BeFalse();
    }

    [Fact]
    public async Task TryComplete_WhileWriteWaitsForRoom_FailsTheWriteWhichPublishesNothing()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait, withFreeSubscription: true);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        var waiting = writer.WriteAsync(new Tick(5)).AsTask();
        waiting.IsCompleted.Should().BeFalse();
        writer.TryComplete().Should().BeTrue();

        await waiting.Awaiting(t => t.Within()).Should().ThrowExactlyAsync<ChannelClosedException>();
        bus.Get<Gate<GatedHandler>>().Open();
        await bus.Log<GatedHandler, int>().WaitForCountAsync(5);
        await bus.Bus.PublishAsync(new Tick(6));
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 6);
    }

    [Fact]
    public async Task WriteAsync_AfterBusStopped_FailsWithChannelClosedExceptionHoldingObjectDisposedException()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Tick, FreeHandler>());
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await writer.WriteAsync(new Tick(1));
        await bus.Control.StopAsync();

        var write = writer.WriteAsync(new Tick(2));

        write.IsFaulted.Should().BeTrue();
        (await write.AsTask().Awaiting(t => t).Should().ThrowExactlyAsync<ChannelClosedException>()).WithInnerExceptionExactly<ObjectDisposedException>();
        writer.TryWrite(new Tick(3)).Should().BeFalse();
        (await writer.WaitToWriteAsync()).Should().BeFalse();
        bus.Log<FreeHandler, int>().Items.Should().Equal(1);
    }

    [Fact]
    public async Task WriteAsync_BusStopsWhileWriteWaitsForRoom_FailsWithChannelClosedException()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait, stopTimeout: TimeSpan.FromMilliseconds(100));
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        var waiting = writer.WriteAsync(new Tick(5)).AsTask();
        waiting.IsCompleted.Should().BeFalse();
        var report = await bus.Control.StopAsync();

        (await waiting.Awaiting(t => t.Within()).Should().ThrowExactlyAsync<ChannelClosedException>()).WithInnerExceptionExactly<ObjectDisposedException>();
        report.Unfinished.Select(u => ((Tick)u.Message).N).Should().BeEquivalentTo([0, 1, 2, 3, 4], "the waiting write published nothing");
    }

    [Fact]
    public async Task WriteAndTryWrite_BadInput_ThrowAsPublishAsyncDoes()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Tick, FreeHandler>().AddCommandHandler<Ping, PingHandler>());
        var writer = bus.Bus.AsChannelWriter<Tick>();
        var anything = bus.Bus.AsChannelWriter<object>();

        writer.Invoking(w => w.WriteAsync(null!)).Should().Throw<ArgumentNullException>();
        writer.Invoking(w => w.TryWrite(null!)).Should().Throw<ArgumentNullException>();
        anything.Invoking(w => w.WriteAsync(new Ping())).Should().Throw<ArgumentException>().WithMessage("*is a command*");
        anything.Invoking(w => w.TryWrite(new Ping())).Should().Throw<ArgumentException>().WithMessage("*is a command*");
        anything.Invoking(w => w.WriteAsync(new Unknown())).Should().Throw<UnknownMessageTypeException>();
        bus.Bus.Invoking(b => b.AsChannelWriter<Ping>()).Should().Throw<ArgumentException>().WithMessage("*is a command*channel writer*");
        bus.Bus.Invoking(b => b.AsChannelWriter<Unknown>()).Should().Throw<UnknownMessageTypeException>();
        bus.Bus.Invoking(b => b.AsChannelWriter<Tick>(new PublishOptions { MessageId = MessageId.NewId(TimeProvider.System) }))
            .Should().Throw<ArgumentException>().WithParameterName("options").WithMessage("*each event needs an id of its own*");
    }

    [Fact]
    public async Task AsChannelWriter_InterfaceType_EachEventGoesToTheTopicOfItsRuntimeType()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Tick, FreeHandler>().AddEventHandler<Tock, TockHandler>());
        var writer = bus.Bus.AsChannelWriter<IClockEvent>();

        (await writer.WaitToWriteAsync()).Should().BeTrue("an interface writer has no topic of its own to wait for");
        await writer.WriteAsync(new Tick(1));
        writer.TryWrite(new Tock(2)).Should().BeTrue();
        await writer.WriteAsync(new Tick(3));

        (await bus.Log<FreeHandler, int>().WaitForCountAsync(2)).Should().Equal(1, 3);
        (await bus.Log<TockHandler, int>().WaitForCountAsync(1)).Should().Equal(2);
        await bus.Control.StopAsync();
        (await writer.WaitToWriteAsync()).Should().BeFalse("the bus stopped");
    }

    [Fact]
    public async Task ChannelWriter_ProducerLoopWrittenForChannels_PublishesEverythingUnchanged()
    {
        const int Events = 500;
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Tick, FreeHandler>().ConfigureSubscription<FreeHandler>(o => o.Capacity = 8));

        // The same producer code feeds a plain bounded channel and the bus.
        var plain = Channel.CreateBounded<Tick>(8);
        var plainDrained = DrainAsync(plain.Reader);
        await CopyAllAsync(Source(Events), plain.Writer);
        await CopyAllAsync(Source(Events), bus.Bus.AsChannelWriter<Tick>());

        (await plainDrained.Within()).Should().Equal(Enumerable.Range(0, Events));
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(Events)).Should().Equal(Enumerable.Range(0, Events));
        bus.Control.IsRunning.Should().BeTrue("completing the bus's writer at the end of the loop leaves the bus running");

        static ChannelReader<Tick> Source(int count)
        {
            var source = Channel.CreateUnbounded<Tick>();
            for (var i = 0; i < count; i++)
            {
                source.Writer.TryWrite(new Tick(i));
            }

            source.Writer.Complete();
            return source.Reader;
        }

        static async Task<List<int>> DrainAsync(ChannelReader<Tick> reader)
        {
            var items = new List<int>();
            await foreach (var tick in reader.ReadAllAsync())
            {
                items.Add(tick.N);
            }

            return items;
        }
    }

    [Fact]
    public async Task ChannelWriter_WaitThenTryWriteLoop_WritesOnceRoomFrees()
    {
        await using var bus = await StartGatedAsync(FullPolicy.Wait);
        var writer = bus.Bus.AsChannelWriter<Tick>();
        await FillAsync(bus, writer);

        // The loop channels' own WriteAsync runs, written against the abstract writer.
        var written = WriteByPollingAsync(writer, new Tick(5));
        written.IsCompleted.Should().BeFalse();
        bus.Get<Gate<GatedHandler>>().Open();

        (await written.Within()).Should().BeTrue();
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(6)).Should().Equal(0, 1, 2, 3, 4, 5);

        static async Task<bool> WriteByPollingAsync<T>(ChannelWriter<T> writer, T item)
        {
            while (await writer.WaitToWriteAsync())
            {
                if (writer.TryWrite(item))
                {
                    return true;
                }
            }

            return false;
        }
    }

    [Fact]
    public async Task TryWrite_StreamGroupBacklogFull_ReturnsFalseAndWaitToWriteWaitsForTheGroup()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Tick, FreeHandler>()
            .AddStreamGroup<Tick, GatedHandler>("gated", o =>
            {
                o.Capacity = Capacity;
                o.FullPolicy = FullPolicy.FailFast;
            }));
        var writer = bus.Bus.AsChannelWriter<Tick>();
        for (var i = 0; i < Capacity; i++)
        {
            writer.TryWrite(new Tick(i)).Should().BeTrue();
        }

        await bus.Log<GatedHandler, string>().WaitForCountAsync(1);

        writer.TryWrite(new Tick(Capacity)).Should().BeFalse("the group's backlog holds its capacity of uncommitted events");
        var wait = writer.WaitToWriteAsync().AsTask();
        wait.IsCompleted.Should().BeFalse();
        bus.Get<Gate<GatedHandler>>().Open();
        (await wait.Within()).Should().BeTrue();
        writer.TryWrite(new Tick(Capacity + 1)).Should().BeTrue();
        (await bus.Log<GatedHandler, int>().WaitForCountAsync(Capacity + 1)).Should().Equal(0, 1, 2, 3, 5);
        (await bus.Log<FreeHandler, int>().WaitForCountAsync(Capacity + 1)).Should().Equal([0, 1, 2, 3, 5], "the refused write reached no subscription either");
    }

    [Fact]
    public async Task WaitToWriteAsyncAndWriteAsync_FromAHandlerIntoItsOwnFullBuffer_ThrowTheSelfDeadlockError()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Tick, SelfWritingHandler>()
            .ConfigureSubscription<SelfWritingHandler>(o => o.Capacity = 1));

        // Tick 0 is taken by the worker; tick 1 fills the buffer (capacity 1) once it is.
        await bus.Bus.PublishAsync(new Tick(0));
        await bus.Bus.PublishAsync(new Tick(1)).AsTask().Within();
        bus.Get<Gate<SelfWritingHandler>>().Open(); // now the handler of tick 0 writes into its own full buffer

        var outcomes = await bus.Log<SelfWritingHandler, Exception>().WaitForCountAsync(2, Wait.Promptly);

        outcomes.Should().AllSatisfy(e => e.Should().BeOfType<InvalidOperationException>().Which.Message.Should().ContainEquivalentOf("deadlock"));
        (await bus.Log<SelfWritingHandler, int>().WaitForCountAsync(2)).Should().Equal(0, 1);
        (await bus.Control.StopAsync()).Drained.Should().BeTrue();
        bus.Log<SelfWritingHandler, int>().Items.Should().Equal([0, 1], "the refused tick 2 was not published");
    }

    /// <summary>The producer loop of code written for channels: copies a source into any writer, then completes it.</summary>
    private static async Task CopyAllAsync<T>(ChannelReader<T> source, ChannelWriter<T> target)
    {
        await foreach (var item in source.ReadAllAsync())
        {
            await target.WriteAsync(item);
        }

        target.Complete();
    }

    /// <summary>A bus whose <see cref="GatedHandler"/> has capacity 4 and <paramref name="policy"/>, optionally next to an ungated subscription with plenty of room.</summary>
    private static Task<TestBus> StartGatedAsync(FullPolicy policy, bool withFreeSubscription = false, TimeSpan? stopTimeout = null) =>
        TestBus.StartAsync(b =>
        {
            b.AddEventHandler<Tick, GatedHandler>().ConfigureSubscription<GatedHandler>(o =>
            {
                o.Capacity = Capacity;
                o.FullPolicy = policy;
            });
            if (withFreeSubscription)
            {
                b.AddEventHandler<Tick, FreeHandler>().ConfigureSubscription<FreeHandler>(o => o.Capacity = 100);
            }

            if (stopTimeout is { } timeout)
            {
                b.Configure(o => o.StopTimeout = timeout);
            }
        });

    /// <summary>Event 0 in flight (the handler waits at the gate), events 1-4 buffered: the gated buffer is exactly full.</summary>
    private static async Task FillAsync(TestBus bus, ChannelWriter<Tick> writer)
    {
        await writer.WriteAsync(new Tick(0));
        await bus.Log<GatedHandler, string>().WaitForCountAsync(1);
        for (var i = 1; i <= Capacity; i++)
        {
            writer.WriteAsync(new Tick(i)).IsCompletedSuccessfully.Should().BeTrue("there is room for {0} buffered events", Capacity);
        }
    }

    public interface IClockEvent;

    public sealed record Tick(int N) : IClockEvent;

    public sealed record Tock(int N) : IClockEvent;

    public sealed record Unknown;

    public sealed record Ping : ICommand;

    public sealed class PingHandler : ICommandHandler<Ping>
    {
        public ValueTask<CommandResult> HandleAsync(Ping command, MessageContext context, CancellationToken cancellationToken) => new(CommandResult.Accepted);
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

    public sealed class FreeHandler(Recorder<FreeHandler, int> handled) : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add(@event.N);
            return default;
        }
    }

    /// <summary>For tick 0, waits at its gate, then tries to wait for room and to write into its own subscription.</summary>
    public sealed class SelfWritingHandler(IEventBus bus, Gate<SelfWritingHandler> gate, Recorder<SelfWritingHandler, Exception> outcomes, Recorder<SelfWritingHandler, int> handled) : IEventHandler<Tick>
    {
        public async ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            if (@event.N == 0)
            {
                await gate.WaitAsync(cancellationToken);
                var writer = bus.AsChannelWriter<Tick>();
                try
                {
                    await writer.WaitToWriteAsync(cancellationToken);
                }
                catch (InvalidOperationException e)
                {
                    outcomes.Add(e);
                }

                try
                {
                    await writer.WriteAsync(new Tick(2), cancellationToken);
                }
                catch (InvalidOperationException e)
                {
                    outcomes.Add(e);
                }
            }

            handled.Add(@event.N);
        }
    }

    public sealed class TockHandler(Recorder<TockHandler, int> handled) : IEventHandler<Tock>
    {
        public ValueTask HandleAsync(Tock @event, MessageContext context, CancellationToken cancellationToken)
        {
            handled.Add(@event.N);
            return default;
        }
    }

    public sealed class ContextHandler(Recorder<ContextHandler, (int N, string? CorrelationId, MessageId Id)> seen) : IEventHandler<Tick>
    {
        public ValueTask HandleAsync(Tick @event, MessageContext context, CancellationToken cancellationToken)
        {
            seen.Add((@event.N, context.CorrelationId, context.MessageId));
            return default;
        }
    }
}
