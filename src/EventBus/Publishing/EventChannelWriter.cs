using System.Diagnostics;
using System.Threading.Channels;

namespace EventBus;

/// <summary>
/// The bus as a <see cref="ChannelWriter{T}"/> (<see cref="IEventBus.AsChannelWriter{TEvent}(PublishOptions?)"/>): each write is
/// a publish through the topic of the event's runtime type, with that topic's full policies, and completing the writer closes
/// this writer only.
/// </summary>
/// <remarks>
/// <para>A write first makes one attempt under the topic's lock (<see cref="Topic.TryPublishOnce"/>): the common case, room
/// everywhere, costs what a publish costs. Only a write that must wait links the caller's token with the writer's completion, so
/// that <see cref="TryComplete"/> fails the writes still waiting, as a bounded channel fails its blocked writers.</para>
/// <para>Writes go to the topic of each event's runtime type. <see cref="WaitToWriteAsync"/> waits for room in the topic of
/// <typeparamref name="TEvent"/> itself (<see cref="_topic"/>): known from the start for a sealed type, looked up until it exists
/// for another class; an interface, an abstract class or <see cref="object"/> has none, and the wait ends at once.</para>
/// </remarks>
[DebuggerDisplay("ChannelWriter<{typeof(TEvent).Name,nq}>, completed: {_completion != null}")]
internal sealed class EventChannelWriter<TEvent> : ChannelWriter<TEvent>
{
    // Stands for "completed without an error", as null stands for "not completed".
    private static readonly Exception s_completedWithoutError = new ChannelClosedException();

    private readonly EventPublisher _publisher;
    private readonly TopicTable _topics;
    private readonly PublishOptions? _options;
    private Topic? _topic;

    // Cancelled once the writer is completed: waits linked to it end then.
    private readonly CancellationTokenSource _closing = new();
    private Exception? _completion;

    public EventChannelWriter(EventPublisher publisher, TopicTable topics, Topic? topic, PublishOptions? options)
    {
        _publisher = publisher;
        _topics = topics;
        _topic = topic;
        _options = options;
    }

    public override bool TryComplete(Exception? error = null)
    {
        if (Interlocked.CompareExchange(ref _completion, error ?? s_completedWithoutError, null) is not null)
        {
            return false;
        }

        // Asynchronously: the writes and waits it ends resume on the thread pool, not inside the caller's TryComplete.
        _ = _closing.CancelAsync();
        return true;
    }

    public override bool TryWrite(TEvent item)
    {
        var topic = TopicOf(item);
        if (Volatile.Read(ref _completion) is not null || topic.IsCompleted)
        {
            return false;
        }

        return EventBusTelemetry.Source.HasListeners()
            ? TryWriteTraced(topic, item!)
            : topic.TryPublishNow(item!, _publisher.CreateContext(topic.Name, _options));
    }

    public override ValueTask WriteAsync(TEvent item, CancellationToken cancellationToken = default)
    {
        var topic = TopicOf(item);
        if (Volatile.Read(ref _completion) is { } completion)
        {
            return ValueTask.FromException(ClosedException(completion));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        if (EventBusTelemetry.Source.HasListeners())
        {
            return WriteSlowAsync(topic, item!, null, cancellationToken);
        }

        var context = _publisher.CreateContext(topic.Name, _options);
        try
        {
            return topic.TryPublishOnce(item!, context) is null ? default : WriteSlowAsync(topic, item!, context, cancellationToken);
        }
        catch (Exception e)
        {
            // The channel's way: every outcome of a write but a bad argument comes back in its task.
            return ValueTask.FromException(e is ObjectDisposedException ? new ChannelClosedException(e) : e);
        }
    }

    public override ValueTask<bool> WaitToWriteAsync(CancellationToken cancellationToken = default)
    {
        if (Volatile.Read(ref _completion) is { } completion)
        {
            return completion == s_completedWithoutError ? new(false) : ValueTask.FromException<bool>(completion);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<bool>(cancellationToken);
        }

        if ((_topic ??= FindOwnTopic()) is not { } topic)
        {
            // No topic of its own: room is known only per event, when it is written.
            return new(!_topics.IsClosed);
        }

        if (topic.IsCompleted)
        {
            return new(false);
        }

        return topic.FindFullNow() is { } full ? WaitForRoomAsync(topic, full, cancellationToken) : new(!topic.IsCompleted);
    }

    /// <summary>The topic of <typeparamref name="TEvent"/> itself, once it exists; none for an interface or an abstract class.</summary>
    private Topic? FindOwnTopic() =>
        typeof(TEvent).IsAbstract || typeof(TEvent).IsInterface || !_topics.TryGet(typeof(TEvent), out var topic) ? null : topic;

    /// <summary>The topic of <paramref name="item"/>, refusing what <see cref="IEventBus.PublishAsync{TEvent}(TEvent, CancellationToken)"/> refuses.</summary>
    private Topic TopicOf(TEvent item)
    {
        if (item is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(item));
        }

        return _publisher.TopicOf(item);
    }

    private bool TryWriteTraced(Topic topic, object item)
    {
        // A write that finds no room publishes nothing and gets no span; one that loses the room to a redelivery scheduled in
        // between gets a span marked as such.
        if (topic.FindFullNow() is not null)
        {
            return false;
        }

        using var activity = Tracing.StartProducerActivity("publish", topic.Name);
        var context = _publisher.CreateContext(topic.Name, _options);
        Tracing.TagMessage(activity, context);
        if (topic.TryPublishNow(item, context))
        {
            return true;
        }

        activity?.SetStatus(ActivityStatusCode.Error, "A subscription or consumer group had no room; nothing was published.");
        return false;
    }

    /// <summary>
    /// A write that waits for room (or is traced): the caller's token is linked with the writer's completion, and the publish
    /// goes through the topic's own wait (<see cref="Topic.PublishAsync"/>), with its self-deadlock detection.
    /// </summary>
    private async ValueTask WriteSlowAsync(Topic topic, object item, MessageContext? context, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        try
        {
            // Completed since the first attempt: the write fails rather than publish after the completion.
            linked.Token.ThrowIfCancellationRequested();
            if (context is { } stamped)
            {
                await topic.PublishAsync(item, stamped, linked.Token).ConfigureAwait(false);
            }
            else
            {
                await _publisher.PublishTracedAsync(topic, item, _options, "publish", linked.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && Volatile.Read(ref _completion) is { } completion)
        {
            throw ClosedException(completion);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
        catch (ObjectDisposedException e)
        {
            throw new ChannelClosedException(e);
        }
    }

    /// <summary>Waits until every subscription and group of the topic that keeps every message has room for one more.</summary>
    private async ValueTask<bool> WaitForRoomAsync(Topic topic, IBackpressured full, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closing.Token);
        try
        {
            while (true)
            {
                if (full.IsCurrentWorker())
                {
                    ThrowHelper.ThrowSelfDeadlock(topic.Name, full.Name);
                }

                // Completes when the subscription or group made room, or when the topic is completed.
                await full.WaitForRoomAsync(1, linked.Token).ConfigureAwait(false);
                if (topic.IsCompleted)
                {
                    return false;
                }

                if (topic.FindFullNow() is not { } stillFull)
                {
                    return !topic.IsCompleted;
                }

                full = stillFull;
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && Volatile.Read(ref _completion) is { } completion)
        {
            return completion == s_completedWithoutError ? false : throw completion;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException(cancellationToken);
        }
    }

    /// <summary>The exception a write gets once the writer is completed: as a channel's, the completion's error inside, if any.</summary>
    private static Exception ClosedException(Exception completion) => completion switch
    {
        _ when completion == s_completedWithoutError => new ChannelClosedException(),
        OperationCanceledException => completion,
        _ => new ChannelClosedException(completion),
    };
}
