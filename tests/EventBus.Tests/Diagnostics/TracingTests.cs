using System.Diagnostics;
using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Diagnostics;

/// <summary>
/// The bus's spans, seen through an <see cref="ActivityListener"/>: <c>publish {topic}</c> and <c>send {command}</c> (producer),
/// <c>process {topic}</c> (consumer, one per handler attempt, child of the publish), their <c>messaging.*</c> attributes, and
/// cascades that stay in the publisher's trace.
/// </summary>
/// <remarks>
/// The bus's <see cref="ActivitySource"/> is process-wide and tests run in parallel, so each test starts a root activity of its
/// own around its publish and its <see cref="TraceCollector"/> samples and keeps only the activities of that trace.
/// </remarks>
[Collection(nameof(ActivityListenerCollection))]
public sealed class TracingTests
{
    private const string RootSourceName = "EventBus.Tests.Root";

    private static readonly ActivitySource RootSource = new(RootSourceName);

    [Fact]
    public async Task PublishAsync_OneHandler_OneTraceWithPublishSpanAndProcessSpanAsItsChild()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Placed, PlacedHandler>());
        using var trace = new TraceCollector();

        ActivityContext rootContext;
        using (var root = trace.StartRoot())
        {
            rootContext = root.Context;
            await bus.Bus.PublishAsync(new Placed(1));
        }

        var spans = await trace.WaitForSpansAsync(2);
        var seen = (await bus.Log<PlacedHandler, Seen>().WaitForCountAsync(1)).Single();
        await bus.Control.StopAsync();

        var publish = spans.Single(s => s.DisplayName == $"publish {typeof(Placed).FullName}");
        var process = spans.Single(s => s.DisplayName == $"process {typeof(Placed).FullName}");
        publish.Kind.Should().Be(ActivityKind.Producer);
        publish.ParentSpanId.Should().Be(rootContext.SpanId);
        publish.Status.Should().Be(ActivityStatusCode.Unset);
        Tags(publish).Should().BeEquivalentTo(new Dictionary<string, object?>
        {
            ["messaging.system"] = "eventbus",
            ["messaging.destination.name"] = typeof(Placed).FullName,
            ["messaging.operation.type"] = "send",
            ["messaging.operation.name"] = "publish",
            ["messaging.message.id"] = seen.MessageId,
        });

        process.Kind.Should().Be(ActivityKind.Consumer);
        process.TraceId.Should().Be(rootContext.TraceId);
        process.ParentSpanId.Should().Be(publish.SpanId);
        process.Status.Should().Be(ActivityStatusCode.Unset);
        Tags(process).Should().BeEquivalentTo(new Dictionary<string, object?>
        {
            ["messaging.system"] = "eventbus",
            ["messaging.destination.name"] = typeof(Placed).FullName,
            ["messaging.consumer.group.name"] = typeof(PlacedHandler).FullName,
            ["messaging.operation.type"] = "process",
            ["messaging.operation.name"] = "process",
            ["messaging.message.id"] = seen.MessageId,
            ["eventbus.delivery_count"] = 1,
        });

        // The envelope carries the publish span's context, and the handler runs inside its process span.
        seen.TraceContext.SpanId.Should().Be(publish.SpanId);
        seen.CurrentSpanId.Should().Be(process.SpanId);
        trace.Spans.Should().HaveCount(2, "one publish and one handler attempt make exactly two spans");
    }

    [Fact]
    public async Task PublishAsync_HandlerPublishesAnotherEvent_CascadeStaysInOneTrace()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Placed, PublishShippedWhenPlaced>()
            .AddEventHandler<Shipped, ShippedHandler>());
        using var trace = new TraceCollector();

        ActivityContext rootContext;
        using (var root = trace.StartRoot())
        {
            rootContext = root.Context;
            await bus.Bus.PublishAsync(new Placed(7), new PublishOptions { CorrelationId = "flow-7" });
        }

        var spans = await trace.WaitForSpansAsync(4);
        await bus.Log<ShippedHandler, Seen>().WaitForCountAsync(1);
        await bus.Control.StopAsync();

        var publishPlaced = spans.Single(s => s.DisplayName == $"publish {typeof(Placed).FullName}");
        var processPlaced = spans.Single(s => s.DisplayName == $"process {typeof(Placed).FullName}");
        var publishShipped = spans.Single(s => s.DisplayName == $"publish {typeof(Shipped).FullName}");
        var processShipped = spans.Single(s => s.DisplayName == $"process {typeof(Shipped).FullName}");
        spans.Should().OnlyContain(s => s.TraceId == rootContext.TraceId);
        publishPlaced.ParentSpanId.Should().Be(rootContext.SpanId);
        processPlaced.ParentSpanId.Should().Be(publishPlaced.SpanId);
        publishShipped.ParentSpanId.Should().Be(processPlaced.SpanId, "the handler publishes from inside its process span");
        processShipped.ParentSpanId.Should().Be(publishShipped.SpanId);
        processShipped.GetTagItem("messaging.consumer.group.name").Should().Be(typeof(ShippedHandler).FullName);
        spans.Should().OnlyContain(s => (string?)s.GetTagItem("messaging.message.conversation_id") == "flow-7", "CausedBy carries the correlation id through the cascade");
        trace.Spans.Should().HaveCount(4);
    }

    [Fact]
    public async Task PublishAsync_HandlerThrows_EveryAttemptSpanHasErrorStatusErrorTypeAndTheExceptionEvent()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddEventHandler<Placed, ThrowingHandler>()
            .ConfigureSubscription<ThrowingHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 }));
        using var trace = new TraceCollector();

        using (trace.StartRoot())
        {
            await bus.Bus.PublishAsync(new Placed(3));
        }

        var spans = await trace.WaitForSpansAsync(3);
        await bus.Undelivered.WaitForCountAsync(1);
        await bus.Control.StopAsync();

        var publish = spans.Single(s => s.DisplayName.StartsWith("publish ", StringComparison.Ordinal));
        var attempts = spans.Where(s => s.DisplayName == $"process {typeof(Placed).FullName}").OrderBy(s => (int)s.GetTagItem("eventbus.delivery_count")!).ToList();
        attempts.Should().HaveCount(2, "one process span per handler attempt");
        attempts.Select(s => s.GetTagItem("eventbus.delivery_count")).Should().Equal(1, 2);
        attempts.Should().OnlyContain(s => s.ParentSpanId == publish.SpanId, "a redelivery is a child of the same publish");
        attempts.Should().OnlyContain(s => s.Status == ActivityStatusCode.Error && s.StatusDescription == "card declined 3");
        attempts.Should().OnlyContain(s => (string?)s.GetTagItem("error.type") == "System.InvalidOperationException");
        foreach (var attempt in attempts)
        {
            // The OpenTelemetry exception event says where the handler failed.
            var exception = attempt.Events.Should().ContainSingle(e => e.Name == "exception").Subject;
            var tags = exception.Tags.ToDictionary(t => t.Key, t => t.Value);
            tags["exception.type"].Should().Be("System.InvalidOperationException");
            tags["exception.message"].Should().Be("card declined 3");
            ((string)tags["exception.stacktrace"]!).Should().Contain(nameof(ThrowingHandler));
        }

        publish.Status.Should().Be(ActivityStatusCode.Unset, "the publish itself succeeded");
        publish.GetTagItem("error.type").Should().BeNull();
        trace.Spans.Should().HaveCount(3);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task SendAsync_CommandHandlerPublishes_SendSpanAndTheEventsSpansShareTheTrace(bool invoke, bool typedSender)
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<Ship, ShipHandler>()
            .AddEventHandler<Shipped, ShippedHandler>());
        using var trace = new TraceCollector();

        ActivityContext rootContext;
        CommandResult result;
        using (var root = trace.StartRoot())
        {
            rootContext = root.Context;
            var sender = bus.Get<ICommandSender<Ship>>();
            if (invoke)
            {
                if (typedSender)
                {
                    await sender.InvokeAsync(new Ship(5));
                }
                else
                {
                    (await bus.Commands.SendAsync(new Ship(5))).ThrowIfRejected();
                }

                result = CommandResult.Accepted;
            }
            else
            {
                result = await (typedSender ? sender.SendAsync(new Ship(5)) : bus.Commands.SendAsync(new Ship(5)));
            }
        }

        var spans = await trace.WaitForSpansAsync(3);
        var inHandler = (await bus.Log<ShipHandler, Seen>().WaitForCountAsync(1)).Single();
        await bus.Log<ShippedHandler, Seen>().WaitForCountAsync(1);
        await bus.Control.StopAsync();

        result.IsAccepted.Should().BeTrue();
        var send = spans.Single(s => s.DisplayName == $"send {typeof(Ship).FullName}");
        var publish = spans.Single(s => s.DisplayName == $"publish {typeof(Shipped).FullName}");
        var process = spans.Single(s => s.DisplayName == $"process {typeof(Shipped).FullName}");
        send.Kind.Should().Be(ActivityKind.Producer);
        send.ParentSpanId.Should().Be(rootContext.SpanId);
        send.Status.Should().Be(ActivityStatusCode.Unset);
        Tags(send).Should().BeEquivalentTo(new Dictionary<string, object?>
        {
            ["messaging.system"] = "eventbus",
            ["messaging.destination.name"] = typeof(Ship).FullName,
            ["messaging.operation.type"] = "send",
            ["messaging.operation.name"] = "send",
            ["messaging.message.id"] = inHandler.MessageId,
        });
        inHandler.CurrentSpanId.Should().Be(send.SpanId, "an inline command handler runs inside the send span");
        publish.ParentSpanId.Should().Be(send.SpanId);
        process.ParentSpanId.Should().Be(publish.SpanId);
        spans.Should().OnlyContain(s => s.TraceId == rootContext.TraceId);
        trace.Spans.Should().HaveCount(3);
    }

    [Fact]
    public async Task SendAsync_HandlerThrows_SendSpanHasErrorStatusAndErrorType()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddCommandHandler<Ship, ThrowingShipHandler>());
        using var trace = new TraceCollector();

        using (trace.StartRoot())
        {
            var send = async () => await bus.Commands.SendAsync(new Ship(9));
            await send.Should().ThrowAsync<InvalidOperationException>().WithMessage("no carrier for 9");
        }

        var span = (await trace.WaitForSpansAsync(1)).Single();
        span.DisplayName.Should().Be($"send {typeof(Ship).FullName}");
        span.Status.Should().Be(ActivityStatusCode.Error);
        span.StatusDescription.Should().Be("no carrier for 9");
        span.GetTagItem("error.type").Should().Be("System.InvalidOperationException");
    }

    [Fact]
    public async Task EnqueueAsync_Command_PublishSpanThenProcessSpanOfTheCommandQueue()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .AddCommandHandler<Ship, ShipHandler>()
            .AddEventHandler<Shipped, ShippedHandler>());
        using var trace = new TraceCollector();

        using (trace.StartRoot())
        {
            await bus.Commands.EnqueueAsync(new Ship(4));
        }

        var spans = await trace.WaitForSpansAsync(4);
        await bus.Log<ShippedHandler, Seen>().WaitForCountAsync(1);
        await bus.Control.StopAsync();

        var publish = spans.Single(s => s.DisplayName == $"publish {typeof(Ship).FullName}");
        var process = spans.Single(s => s.DisplayName == $"process {typeof(Ship).FullName}");
        publish.Kind.Should().Be(ActivityKind.Producer);
        publish.GetTagItem("messaging.operation.name").Should().Be("publish");
        process.Kind.Should().Be(ActivityKind.Consumer);
        process.ParentSpanId.Should().Be(publish.SpanId);
        process.GetTagItem("messaging.consumer.group.name").Should().Be(typeof(ShipHandler).FullName);
        spans.Single(s => s.DisplayName == $"publish {typeof(Shipped).FullName}").ParentSpanId.Should().Be(process.SpanId);
        trace.Spans.Should().HaveCount(4);
    }

    [Fact]
    public async Task PublishBatchAsync_ThreeEvents_OnePublishSpanWithTheCountAndOneProcessSpanPerEvent()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Placed, PlacedHandler>());
        using var trace = new TraceCollector();

        using (trace.StartRoot())
        {
            await bus.Bus.PublishBatchAsync([new Placed(1), new Placed(2), new Placed(3)]);
        }

        var spans = await trace.WaitForSpansAsync(4);
        var seen = await bus.Log<PlacedHandler, Seen>().WaitForCountAsync(3);
        await bus.Control.StopAsync();

        var publish = spans.Single(s => s.DisplayName == $"publish {typeof(Placed).FullName}");
        Tags(publish).Should().BeEquivalentTo(new Dictionary<string, object?>
        {
            ["messaging.system"] = "eventbus",
            ["messaging.destination.name"] = typeof(Placed).FullName,
            ["messaging.operation.type"] = "send",
            ["messaging.operation.name"] = "publish",
            ["messaging.batch.message_count"] = 3,
        });
        var processes = spans.Where(s => s.DisplayName == $"process {typeof(Placed).FullName}").ToList();
        processes.Should().HaveCount(3).And.OnlyContain(s => s.ParentSpanId == publish.SpanId);
        processes.Select(s => (string?)s.GetTagItem("messaging.message.id")).Should().BeEquivalentTo(seen.Select(s => s.MessageId));
        trace.Spans.Should().HaveCount(4);
    }

    [Fact]
    public async Task PublishAsync_BusSpansNotSampled_EnvelopeCarriesThePublishersActivity()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Placed, PlacedHandler>());
        using var trace = new TraceCollector(sampleBusSpans: false);

        ActivityContext rootContext;
        using (var root = trace.StartRoot())
        {
            rootContext = root.Context;
            await bus.Bus.PublishAsync(new Placed(2));
        }

        var seen = (await bus.Log<PlacedHandler, Seen>().WaitForCountAsync(1)).Single();
        await bus.Control.StopAsync();

        seen.TraceContext.TraceId.Should().Be(rootContext.TraceId);
        seen.TraceContext.SpanId.Should().Be(rootContext.SpanId, "with no publish span, the publisher's current activity travels in the envelope");
        seen.CurrentSpanId.Should().Be(default(ActivitySpanId), "no process span was sampled, and workers do not inherit the publisher's activity");
        trace.Spans.Should().BeEmpty();
    }

    [Fact]
    public async Task ChannelWriter_WriteAsyncAndTryWrite_EachWriteIsAPublishSpanParentOfItsProcessSpan()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Placed, PlacedHandler>());
        using var trace = new TraceCollector();
        var writer = bus.Bus.AsChannelWriter<Placed>();

        using (trace.StartRoot())
        {
            await writer.WriteAsync(new Placed(1));
            writer.TryWrite(new Placed(2)).Should().BeTrue();
        }

        var spans = await trace.WaitForSpansAsync(4);
        var seen = await bus.Log<PlacedHandler, Seen>().WaitForCountAsync(2);
        await bus.Control.StopAsync();

        var publishes = spans.Where(s => s.DisplayName == $"publish {typeof(Placed).FullName}").ToList();
        var processes = spans.Where(s => s.DisplayName == $"process {typeof(Placed).FullName}").ToList();
        publishes.Should().HaveCount(2);
        publishes.Select(p => Tags(p)["messaging.message.id"]).Should().BeEquivalentTo(seen.Select(s => s.MessageId));
        processes.Select(p => p.ParentSpanId).Should().BeEquivalentTo(publishes.Select(p => p.SpanId), "each process span is the child of its write's publish span");
        seen.Select(s => s.TraceContext.SpanId).Should().BeEquivalentTo(publishes.Select(p => p.SpanId));
    }

    [Fact]
    public async Task ChannelWriter_TryWriteFindsNoRoom_RecordsNoSpan()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddEventHandler<Placed, GatedPlacedHandler>().ConfigureSubscription<GatedPlacedHandler>(o => o.Capacity = 1));
        var writer = bus.Bus.AsChannelWriter<Placed>();
        await writer.WriteAsync(new Placed(1));
        await bus.Log<GatedPlacedHandler, int>().WaitForCountAsync(1);
        await writer.WriteAsync(new Placed(2)); // buffered: the buffer of one is full
        using var trace = new TraceCollector();

        using (trace.StartRoot())
        {
            writer.TryWrite(new Placed(3)).Should().BeFalse();
        }

        trace.Spans.Should().BeEmpty("a span ends with its write, and a write that publishes nothing gets none");
        bus.Get<Gate>().Open();
    }

    private static Dictionary<string, object?> Tags(Activity activity) => activity.TagObjects.ToDictionary(t => t.Key, t => t.Value);

    /// <summary>Records each event it starts, then waits at the container's <see cref="Gate"/>.</summary>
    public sealed class GatedPlacedHandler(Gate gate, Recorder<GatedPlacedHandler, int> started) : IEventHandler<Placed>
    {
        public async ValueTask HandleAsync(Placed @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add(@event.N);
            await gate.WaitAsync(cancellationToken);
        }
    }

    public sealed record Placed(int N);

    public sealed record Shipped(int N);

    public sealed record Ship(int N) : ICommand;

    /// <summary>What a handler saw: its message id, the envelope's trace context and the current span.</summary>
    public sealed record Seen(string MessageId, ActivityContext TraceContext, ActivitySpanId CurrentSpanId)
    {
        public static Seen From(in MessageContext context) => new(context.MessageId.ToString(), context.TraceContext, Activity.Current?.SpanId ?? default);
    }

    public sealed class PlacedHandler(Recorder<PlacedHandler, Seen> seen) : IEventHandler<Placed>
    {
        public ValueTask HandleAsync(Placed @event, MessageContext context, CancellationToken cancellationToken)
        {
            seen.Add(Seen.From(context));
            return default;
        }
    }

    public sealed class PublishShippedWhenPlaced(IEventBus events) : IEventHandler<Placed>
    {
        public ValueTask HandleAsync(Placed @event, MessageContext context, CancellationToken cancellationToken) =>
            events.PublishAsync(new Shipped(@event.N), PublishOptions.CausedBy(context), cancellationToken);
    }

    public sealed class ShippedHandler(Recorder<ShippedHandler, Seen> seen) : IEventHandler<Shipped>
    {
        public ValueTask HandleAsync(Shipped @event, MessageContext context, CancellationToken cancellationToken)
        {
            seen.Add(Seen.From(context));
            return default;
        }
    }

    public sealed class ThrowingHandler : IEventHandler<Placed>
    {
        public ValueTask HandleAsync(Placed @event, MessageContext context, CancellationToken cancellationToken) =>
            throw new InvalidOperationException($"card declined {@event.N}");
    }

    public sealed class ShipHandler(IEventBus events, Recorder<ShipHandler, Seen> seen) : ICommandHandler<Ship>
    {
        public async ValueTask<CommandResult> HandleAsync(Ship command, MessageContext context, CancellationToken cancellationToken)
        {
            seen.Add(Seen.From(context));
            await events.PublishAsync(new Shipped(command.N), PublishOptions.CausedBy(context), cancellationToken);
            return CommandResult.Accepted;
        }
    }

    public sealed class ThrowingShipHandler : ICommandHandler<Ship>
    {
        public ValueTask<CommandResult> HandleAsync(Ship command, MessageContext context, CancellationToken cancellationToken) =>
            throw new InvalidOperationException($"no carrier for {command.N}");
    }

    /// <summary>
    /// Listens to the bus's source and keeps the bus's activities of one trace: the trace of the root activity the test starts
    /// with <see cref="StartRoot"/>. Activities of other traces (other tests running in parallel) are not sampled here.
    /// </summary>
    private sealed class TraceCollector : IDisposable
    {
        private readonly ActivityListener _listener;
        private readonly Recorder<Activity> _spans = new();
        private readonly bool _sampleBusSpans;
        private ActivityTraceId _traceId; // written once, before the test publishes; read on the bus's threads after that

        public TraceCollector(bool sampleBusSpans = true)
        {
            _sampleBusSpans = sampleBusSpans;
            _listener = new ActivityListener
            {
                ShouldListenTo = static source => source.Name is EventBusTelemetry.SourceName or RootSourceName,
                Sample = Sample,
                ActivityStopped = activity =>
                {
                    if (activity.Source.Name == EventBusTelemetry.SourceName && IsMine(activity.TraceId))
                    {
                        _spans.Add(activity);
                    }
                },
            };
            ActivitySource.AddActivityListener(_listener);
        }

        /// <summary>Gets the bus's spans of the test's trace that have ended.</summary>
        public IReadOnlyList<Activity> Spans => _spans.Items;

        /// <summary>Starts the test's root activity; the bus's spans of its trace are collected.</summary>
        public Activity StartRoot()
        {
            var root = RootSource.StartActivity("test") ?? throw new InvalidOperationException("The root activity was not sampled.");
            _traceId = root.TraceId;
            return root;
        }

        /// <summary>Waits until at least <paramref name="count"/> of the bus's spans of the trace have ended.</summary>
        public Task<IReadOnlyList<Activity>> WaitForSpansAsync(int count) => _spans.WaitForCountAsync(count);

        public void Dispose() => _listener.Dispose();

        private ActivitySamplingResult Sample(ref ActivityCreationOptions<ActivityContext> options) =>
            options.Source.Name == RootSourceName || (_sampleBusSpans && IsMine(options.Parent.TraceId))
                ? ActivitySamplingResult.AllDataAndRecorded
                : ActivitySamplingResult.None;

        private bool IsMine(ActivityTraceId traceId) => _traceId != default && traceId == _traceId;
    }
}
