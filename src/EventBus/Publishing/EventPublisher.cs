using System.Buffers;
using System.Threading.Channels;

namespace EventBus;

/// <summary>
/// Publishes events (<see cref="IEventBus"/>): finds the topic of each event's runtime type, stamps its envelope and hands it to
/// the topic, which appends it to its stream (if any) and writes it to every subscription, or to none.
/// </summary>
internal sealed class EventPublisher(TopicTable topics, TimeProvider time) : IEventBus
{
    private readonly TopicTable _topics = topics;

    public ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default) =>
        PublishAsync(@event, null, cancellationToken);

    public ValueTask PublishAsync<TEvent>(TEvent @event, PublishOptions? options, CancellationToken cancellationToken = default)
    {
        if (@event is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(@event));
        }

        var topic = _topics.Of(@event);
        if (topic.IsCommand)
        {
            ThrowHelper.ThrowCommandPublished(topic.MessageType);
        }

        return EventBusTelemetry.Source.HasListeners()
            ? PublishTracedAsync(topic, @event, options, "publish", cancellationToken)
            : topic.PublishAsync(@event, CreateContext(topic.Name, options), cancellationToken);
    }

    public ChannelWriter<TEvent> AsChannelWriter<TEvent>(PublishOptions? options = null)
    {
        var type = typeof(TEvent);
        if (MessageTypes.IsCommand(type))
        {
            ThrowHelper.ThrowCommandWriter(type);
        }

        if (options?.MessageId is { } id)
        {
            ThrowHelper.ThrowWriterMessageId(id);
        }

        // A sealed type carries only its own events: its topic is created now, so that an unknown event type fails here. Any other
        // type may carry derived events, which go to the topics of their runtime types; the writer finds its own topic later.
        var topic = type.IsSealed || type.IsValueType ? _topics.GetOrCreate(type, isCommand: false) : null;
        return new EventChannelWriter<TEvent>(this, _topics, topic, options);
    }

    public ChannelReader<StreamEvent<TEvent>> GetReader<TEvent>(string name)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Subscription[] subscriptions = _topics.TryGet(typeof(TEvent), out var topic) ? topic.Subscriptions : [];
        var pull = Array.Find(subscriptions, s => s.IsPull && s.Name == name);
        if (pull is null)
        {
            ThrowHelper.ThrowUnknownPullSubscription(name, typeof(TEvent), [.. subscriptions.Where(s => s.IsPull).Select(s => s.Name)]);
        }

        return pull.GetReader<TEvent>();
    }

    public IEventBatcher<TEvent> CreateBatcher<TEvent>(int maxBatchSize, TimeSpan linger) =>
        EventBatcher.Create<TEvent>(this, maxBatchSize, linger, time);

    /// <summary>The topic of <paramref name="event"/>'s runtime type; throws for a command, as a publish does.</summary>
    internal Topic TopicOf<TEvent>(TEvent @event)
    {
        var topic = _topics.Of(@event);
        if (topic.IsCommand)
        {
            ThrowHelper.ThrowCommandPublished(topic.MessageType);
        }

        return topic;
    }

    /// <summary>Publishes inside a <c>publish</c> span whose context travels in the envelope.</summary>
    internal async ValueTask PublishTracedAsync(Topic topic, object message, PublishOptions? options, string operation, CancellationToken cancellationToken, ReplySink? reply = null)
    {
        using var activity = Tracing.StartProducerActivity(operation, topic.Name);
        var context = CreateContext(topic.Name, options, reply);
        Tracing.TagMessage(activity, context);
        try
        {
            await topic.PublishAsync(message, context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Tracing.SetError(activity, e);
            throw;
        }
    }

    public ValueTask PublishBatchAsync<TEvent>(IReadOnlyList<TEvent> events, PublishOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(events);
        if (events.Count == 0)
        {
            return default;
        }

        // The common case, one runtime type: one topic takes the whole batch atomically, from rented arrays.
        Topic? single = null;
        for (var i = 0; i < events.Count; i++)
        {
            var topic = GetBatchTopic(events[i]);
            if (single is null)
            {
                single = topic;
            }
            else if (topic != single)
            {
                return PublishMixedBatchAsync(events, options, cancellationToken);
            }
        }

        return PublishGroup(single!, events, options, cancellationToken);
    }

    private Topic GetBatchTopic<TEvent>(TEvent item)
    {
        if (item is null)
        {
            throw new ArgumentNullException("events", "A batch cannot contain null events.");
        }

        var topic = _topics.Of(item);
        if (topic.IsCommand)
        {
            ThrowHelper.ThrowCommandPublished(topic.MessageType);
        }

        return topic;
    }

    /// <summary>Publishes a batch of one topic from pooled arrays (returned once the topic took the batch): no allocation per batch.</summary>
    private ValueTask PublishRented<TEvent>(Topic topic, IReadOnlyList<TEvent> events, PublishOptions? options, CancellationToken cancellationToken)
    {
        var count = events.Count;
        var messages = ArrayPool<object>.Shared.Rent(count);
        var contexts = ArrayPool<MessageContext>.Shared.Rent(count);
        ValueTask pending;
        try
        {
            for (var i = 0; i < count; i++)
            {
                messages[i] = events[i]!;
                contexts[i] = CreateContext(topic.Name, options);
            }

            pending = topic.PublishBatchAsync(messages, contexts, count, cancellationToken);
        }
        catch
        {
            ReturnRented(messages, contexts, count);
            throw;
        }

        if (pending.IsCompletedSuccessfully)
        {
            ReturnRented(messages, contexts, count);
            return default;
        }

        return AwaitThenReturnAsync(pending, messages, contexts, count);

        static async ValueTask AwaitThenReturnAsync(ValueTask pending, object[] messages, MessageContext[] contexts, int count)
        {
            try
            {
                await pending.ConfigureAwait(false);
            }
            finally
            {
                ReturnRented(messages, contexts, count);
            }
        }
    }

    private static void ReturnRented(object[] messages, MessageContext[] contexts, int count)
    {
        Array.Clear(messages, 0, count);
        Array.Clear(contexts, 0, count);
        ArrayPool<object>.Shared.Return(messages);
        ArrayPool<MessageContext>.Shared.Return(contexts);
    }

    /// <summary>
    /// A batch that mixes runtime types (<c>IDomainEvent</c>): grouped by topic, keeping the order within each topic. Each topic
    /// accepts its part atomically.
    /// </summary>
    private ValueTask PublishMixedBatchAsync<TEvent>(IReadOnlyList<TEvent> events, PublishOptions? options, CancellationToken cancellationToken)
    {
        var groups = new List<(Topic Topic, List<object> Messages)>();
        foreach (var item in events)
        {
            var topic = GetBatchTopic(item);
            var index = groups.FindIndex(g => g.Topic == topic);
            if (index < 0)
            {
                groups.Add((topic, [item!]));
            }
            else
            {
                groups[index].Messages.Add(item!);
            }
        }

        return PublishGroupsAsync(groups, options, cancellationToken);
    }

    /// <summary>A new envelope: a new message id (unless the options give one), the time, the options (or the reply that holds them), the trace.</summary>
    internal MessageContext CreateContext(string messageType, PublishOptions? options, ReplySink? reply = null) =>
        MessageContext.Stamped(messageType, options, reply, time);

    /// <summary>Publishes the events of one topic as one batch, inside a <c>publish</c> span when tracing is on.</summary>
    private ValueTask PublishGroup<TEvent>(Topic topic, IReadOnlyList<TEvent> events, PublishOptions? options, CancellationToken cancellationToken) =>
        EventBusTelemetry.Source.HasListeners()
            ? PublishGroupTracedAsync(topic, events, options, cancellationToken)
            : PublishRented(topic, events, options, cancellationToken);

    private async ValueTask PublishGroupTracedAsync<TEvent>(Topic topic, IReadOnlyList<TEvent> events, PublishOptions? options, CancellationToken cancellationToken)
    {
        using var activity = Tracing.StartProducerActivity("publish", topic.Name);
        activity?.SetTag(EventBusTelemetry.BatchCountAttribute, events.Count);
        try
        {
            // The envelopes are created inside the span, so they carry its context.
            await PublishRented(topic, events, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            Tracing.SetError(activity, e);
            throw;
        }
    }

    private async ValueTask PublishGroupsAsync(List<(Topic Topic, List<object> Messages)> groups, PublishOptions? options, CancellationToken cancellationToken)
    {
        foreach (var (topic, messages) in groups)
        {
            await PublishGroup(topic, messages, options, cancellationToken).ConfigureAwait(false);
        }
    }
}
