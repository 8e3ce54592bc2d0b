using System.Collections.Concurrent;
using EventBus.Tests.Infrastructure;
using EventBus.Tests.Streams;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventBus.Tests.Diagnostics;

/// <summary><see cref="IEventBusObserver"/>: what it is told, in which order, and that it runs outside the bus's locks.</summary>
public sealed class ObserverTests
{
    [Fact]
    public async Task Observer_SubscriptionDelivery_SeesPublishedHandledFailedAndUndelivered()
    {
        var observer = new RecordingObserver();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Job, FlakyJobHandler>(ServiceLifetime.Singleton)
                .ConfigureSubscription<FlakyJobHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 }),
            s => s.AddSingleton<IEventBusObserver>(observer));

        await bus.Bus.PublishAsync(new Job(1));
        await bus.Bus.PublishAsync(new Job(-1)); // always fails
        await bus.Undelivered.WaitForCountAsync(1);
        await Wait.UntilAsync(() => observer.Handled.Count == 1, "the good job is handled");

        observer.Published.Select(p => ((Job)p.Message).N).Should().Equal(1, -1);
        var handled = observer.Handled.Should().ContainSingle().Subject;
        ((Job)handled.Message).N.Should().Be(1);
        handled.Context.Subscription.Should().Be(typeof(FlakyJobHandler).FullName);
        observer.Failed.Select(f => (((Job)f.Message).N, f.Context.DeliveryCount, f.Exception?.Message)).Should().Equal((-1, 1, "bad job"), (-1, 2, "bad job"));
        observer.Undelivered.Should().ContainSingle().Which.Should().Match<UndeliveredMessage>(u => u.Reason == UndeliveredReason.HandlerFailed && ((Job)u.Message).N == -1);
    }

    [Fact]
    public async Task Observer_StreamTopic_SeesTheOffsetAndTheGroupsHandling()
    {
        var observer = new RecordingObserver();
        await using var bus = await TestBus.StartAsync(
            b => b.AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", g => g.StartPosition = StreamPosition.First, ServiceLifetime.Singleton),
            s => s.AddSingleton<IEventBusObserver>(observer));

        await bus.PublishReadingsAsync(0, 3);
        await Wait.UntilAsync(() => observer.Handled.Count == 3, "the group handled the three events");

        observer.Published.Select(p => p.Context.Offset).Should().Equal(0L, 1L, 2L);
        observer.Handled.Select(h => (h.Context.Offset, h.Context.Subscription)).Should().Equal((0L, "g"), (1L, "g"), (2L, "g"));
    }

    [Fact]
    public async Task Observer_BlocksInOnPublished_AnotherPublishToTheSameTopicGoesOn()
    {
        var observer = new BlockingObserver();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Job, FlakyJobHandler>(ServiceLifetime.Singleton),
            s => s.AddSingleton<IEventBusObserver>(observer));
        try
        {
            var first = Task.Run(async () => await bus.Bus.PublishAsync(new Job(1)));
            await observer.Blocked.Task.Within();

            // The first publisher sits in its observer: were the observer called under the topic's lock, this would wait for it.
            await bus.Bus.PublishAsync(new Job(2)).AsTask().Within(Wait.Promptly);

            first.IsCompleted.Should().BeFalse();
            observer.Release.SetResult();
            await first.Within();
        }
        finally
        {
            observer.Release.TrySetResult();
        }
    }

    [Fact]
    public async Task Observer_Throws_IsLoggedAndTheOthersAndTheDeliveryGoOn()
    {
        var logs = new List<string>();
        var recording = new RecordingObserver();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Job, FlakyJobHandler>(ServiceLifetime.Singleton),
            s => s.AddSingleton<IEventBusObserver, ThrowingObserver>().AddSingleton<IEventBusObserver>(recording)
                .AddLogging(l => l.AddProvider(new ListLoggerProvider(logs))));

        await bus.Bus.PublishAsync(new Job(7));
        await bus.Get<Recorder<FlakyJobHandler, int>>().WaitForCountAsync(1);
        await Wait.UntilAsync(() => recording.Handled.Count == 1, "the second observer heard of the handling");

        recording.Published.Should().ContainSingle();
        lock (logs)
        {
            logs.Should().Contain(m => m.StartsWith("Error ObserverFailed:", StringComparison.Ordinal) && m.Contains(nameof(IEventBusObserver.OnPublished), StringComparison.Ordinal))
                .And.Contain(m => m.StartsWith("Error ObserverFailed:", StringComparison.Ordinal) && m.Contains(nameof(IEventBusObserver.OnHandled), StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task Observer_ThrowsInOnStreamEventsSkipped_IsLoggedAndTheOthersAndTheGroupGoOn()
    {
        var logs = new List<string>();
        var skips = new SkipRecorder();
        await using var bus = TestBus.Build(
            b => b.AddStream<Reading>(o => o.MaxCount = 10)
                .AddStreamGroup<Reading, StreamLogTests.OffsetRecorder>("g", g =>
                {
                    g.StartPosition = StreamPosition.First;
                    g.Capacity = 100;
                }, ServiceLifetime.Singleton),
            s => s.AddSingleton<IEventBusObserver, ThrowingObserver>().AddSingleton<IEventBusObserver>(skips)
                .AddLogging(l => l.AddProvider(new ListLoggerProvider(logs))));

        await bus.PublishReadingsAsync(0, 30); // retention keeps 20-29 before the group starts at 0
        await bus.Control.StartAsync();
        var log = bus.Get<StreamLogTests.OffsetRecorder>().Log;
        await log.WaitForCountAsync(10);

        log.Offsets.Should().Equal(Enumerable.Range(20, 10).Select(i => (long)i));
        skips.Items.Should().Equal(new SkippedEvents(typeof(Reading).FullName!, "g", 0, 20,
            "retention trimmed them after the group joined the stream and before it started; reset policy Earliest"));
        lock (logs)
        {
            logs.Should().Contain(m => m.StartsWith("Error ObserverFailed:", StringComparison.Ordinal) && m.Contains(nameof(IEventBusObserver.OnStreamEventsSkipped), StringComparison.Ordinal));
        }
    }

    public sealed record Job(int N);

    public sealed class FlakyJobHandler(Recorder<FlakyJobHandler, int> handled) : IEventHandler<Job>
    {
        public ValueTask HandleAsync(Job @event, MessageContext context, CancellationToken cancellationToken)
        {
            if (@event.N < 0)
            {
                throw new InvalidOperationException("bad job");
            }

            handled.Add(@event.N);
            return default;
        }
    }

    private sealed class RecordingObserver : IEventBusObserver
    {
        public ConcurrentQueue<(object Message, MessageContext Context)> PublishedQueue { get; } = new();

        public List<(object Message, MessageContext Context)> Published => [.. PublishedQueue];

        public ConcurrentQueue<(object Message, MessageContext Context)> HandledQueue { get; } = new();

        public List<(object Message, MessageContext Context)> Handled => [.. HandledQueue];

        public ConcurrentQueue<(object Message, MessageContext Context, Exception? Exception)> FailedQueue { get; } = new();

        public List<(object Message, MessageContext Context, Exception? Exception)> Failed => [.. FailedQueue];

        public ConcurrentQueue<UndeliveredMessage> UndeliveredQueue { get; } = new();

        public List<UndeliveredMessage> Undelivered => [.. UndeliveredQueue];

        public void OnPublished(object message, MessageContext context) => PublishedQueue.Enqueue((message, context));

        public void OnHandled(object message, MessageContext context) => HandledQueue.Enqueue((message, context));

        public void OnFailed(object message, MessageContext context, Exception? exception) => FailedQueue.Enqueue((message, context, exception));

        public void OnUndelivered(UndeliveredMessage message) => UndeliveredQueue.Enqueue(message);
    }

    /// <summary>Blocks the first OnPublished until released; the others pass.</summary>
    private sealed class BlockingObserver : IEventBusObserver
    {
        private int _calls;

        public TaskCompletionSource Blocked { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnPublished(object message, MessageContext context)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                Blocked.SetResult();
                Release.Task.Wait(Wait.Timeout);
            }
        }
    }

    private sealed class ThrowingObserver : IEventBusObserver
    {
        public void OnPublished(object message, MessageContext context) => throw new InvalidOperationException("observer bug");

        public void OnHandled(object message, MessageContext context) => throw new InvalidOperationException("observer bug");

        public void OnStreamEventsSkipped(string topic, string group, long fromOffset, long count, string reason) => throw new InvalidOperationException("observer bug");
    }
}
