using System.Diagnostics;

namespace EventBus;

/// <content>Publishing events: topic lookup, envelopes, single and batch publishes.</content>
internal sealed partial class EventBusRuntime
{
    public ValueTask PublishAsync<TEvent>(TEvent @event, CancellationToken cancellationToken = default) =>
        PublishAsync(@event, null, cancellationToken);

    public ValueTask PublishAsync<TEvent>(TEvent @event, PublishOptions? options, CancellationToken cancellationToken = default)
    {
        if (@event is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(@event));
        }

        var topic = GetTopic(@event);
        if (topic.IsCommand)
        {
            ThrowHelper.ThrowCommandPublished(topic.MessageType);
        }

        return EventBusTelemetry.Source.HasListeners()
            ? PublishTracedAsync(topic, @event, options, "publish", cancellationToken)
            : topic.PublishAsync(@event, CreateContext(topic.Name, options), cancellationToken);
    }

    /// <summary>Publishes inside a <c>publish</c> span whose context travels in the envelope.</summary>
    private async ValueTask PublishTracedAsync(Topic topic, object message, PublishOptions? options, string operation, CancellationToken cancellationToken)
    {
        using var activity = StartProducerActivity(operation, topic.Name);
        var context = CreateContext(topic.Name, options);
        TagMessage(activity, context);
        try
        {
            await topic.PublishAsync(message, context, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            SetError(activity, e);
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

        // A batch may mix runtime types (IDomainEvent): group by topic, keeping order within each topic. Each topic accepts
        // its part atomically; a batch of one runtime type (the common case) is therefore atomic as a whole.
        var groups = new List<(Topic Topic, List<object> Messages)>();
        foreach (var item in events)
        {
            if (item is null)
            {
                throw new ArgumentNullException(nameof(events), "A batch cannot contain null events.");
            }

            var topic = GetTopic(item);
            if (topic.IsCommand)
            {
                ThrowHelper.ThrowCommandPublished(topic.MessageType);
            }

            var index = groups.FindIndex(g => g.Topic == topic);
            if (index < 0)
            {
                groups.Add((topic, [item]));
            }
            else
            {
                groups[index].Messages.Add(item);
            }
        }

        return groups.Count == 1
            ? PublishGroup(groups[0].Topic, groups[0].Messages, options, cancellationToken)
            : PublishGroupsAsync(groups, options, cancellationToken);
    }

    internal MessageContext CreateContext(string messageType, PublishOptions? options)
    {
        var now = _time.GetUtcNow();
        return new MessageContext(options?.MessageId ?? MessageId.NewId(now), messageType, now.UtcTicks, options, Activity.Current);
    }

    private Topic GetTopic<T>(T message)
    {
        // For a sealed static type the runtime type is known: one array read. Otherwise look up the runtime type.
        if (TypeSlot<T>.IsExact)
        {
            var slots = Volatile.Read(ref _topicsBySlot);
            var index = TypeSlot<T>.Index;
            if ((uint)index < (uint)slots.Length && slots[index] is { } cached)
            {
                return cached;
            }
        }

        var type = message!.GetType();
        if (!_topicsByType.TryGetValue(type, out var topic))
        {
            topic = GetOrCreateTopic(type, MessageTypes.IsCommand(type));
        }

        if (TypeSlot<T>.IsExact)
        {
            CacheSlot(TypeSlot<T>.Index, topic);
        }

        return topic;
    }

    private void CacheSlot(int index, Topic topic)
    {
        lock (_topicsLock)
        {
            var slots = _topicsBySlot;
            if (index >= slots.Length)
            {
                Array.Resize(ref slots, Math.Max(index + 1, slots.Length * 2));
            }

            slots[index] = topic;
            Volatile.Write(ref _topicsBySlot, slots);
        }
    }

    private ValueTask PublishGroup(Topic topic, List<object> messages, PublishOptions? options, CancellationToken cancellationToken)
    {
        if (EventBusTelemetry.Source.HasListeners())
        {
            return PublishGroupTracedAsync(topic, messages, options, cancellationToken);
        }

        var contexts = new MessageContext[messages.Count];
        for (var i = 0; i < contexts.Length; i++)
        {
            contexts[i] = CreateContext(topic.Name, options);
        }

        return topic.PublishBatchAsync([.. messages], contexts, cancellationToken);
    }

    private async ValueTask PublishGroupTracedAsync(Topic topic, List<object> messages, PublishOptions? options, CancellationToken cancellationToken)
    {
        using var activity = StartProducerActivity("publish", topic.Name);
        activity?.SetTag(EventBusTelemetry.BatchCountAttribute, messages.Count);
        var contexts = new MessageContext[messages.Count];
        for (var i = 0; i < contexts.Length; i++)
        {
            contexts[i] = CreateContext(topic.Name, options);
        }

        try
        {
            await topic.PublishBatchAsync([.. messages], contexts, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            SetError(activity, e);
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
