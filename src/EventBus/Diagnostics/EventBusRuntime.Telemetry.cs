using System.Diagnostics;

namespace EventBus;

/// <content>Spans, undelivered-message reports, snapshots and topology.</content>
internal sealed partial class EventBusRuntime
{
    /// <summary>Starts the <c>process</c> span of one delivery (a subscription's or a consumer group's), child of the publish span.</summary>
    internal static Activity? StartProcessActivity(string topic, string subscription, in MessageContext context, int batchCount)
    {
        var activity = EventBusTelemetry.Source.StartActivity($"process {topic}", ActivityKind.Consumer, context.TraceContext);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(EventBusTelemetry.SystemAttribute, EventBusTelemetry.SystemName);
            activity.SetTag(EventBusTelemetry.DestinationAttribute, topic);
            activity.SetTag(EventBusTelemetry.ConsumerGroupAttribute, subscription);
            activity.SetTag(EventBusTelemetry.OperationTypeAttribute, "process");
            activity.SetTag(EventBusTelemetry.OperationNameAttribute, "process");
            activity.SetTag(EventBusTelemetry.DeliveryCountAttribute, context.DeliveryCount);
            TagMessage(activity, context);
            if (context.Offset is { } offset)
            {
                activity.SetTag(EventBusTelemetry.OffsetAttribute, offset);
            }

            if (batchCount > 1)
            {
                activity.SetTag(EventBusTelemetry.BatchCountAttribute, batchCount);
            }
        }

        return activity;
    }

    internal static Activity? StartProducerActivity(string operation, string destination)
    {
        var activity = EventBusTelemetry.Source.StartActivity($"{operation} {destination}", ActivityKind.Producer);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(EventBusTelemetry.SystemAttribute, EventBusTelemetry.SystemName);
            activity.SetTag(EventBusTelemetry.DestinationAttribute, destination);
            activity.SetTag(EventBusTelemetry.OperationTypeAttribute, "send");
            activity.SetTag(EventBusTelemetry.OperationNameAttribute, operation);
        }

        return activity;
    }

    internal static void TagMessage(Activity? activity, in MessageContext context)
    {
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(EventBusTelemetry.MessageIdAttribute, context.MessageId.ToString());
            if (context.CorrelationId is { } correlation)
            {
                activity.SetTag(EventBusTelemetry.ConversationIdAttribute, correlation);
            }
        }
    }

    /// <summary>Marks a <c>process</c> span with its attempt's failure, if any: the exception, or a nack without one.</summary>
    internal static void SetOutcome(Activity? activity, AttemptFailure? failure)
    {
        if (failure?.Exception is { } exception)
        {
            SetError(activity, exception);
        }
        else if (failure is not null && activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, failure.Reason);
            activity.SetTag(EventBusTelemetry.ErrorTypeAttribute, EventBusTelemetry.NackErrorType);
        }
    }

    internal static void SetError(Activity? activity, Exception exception)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.SetTag(EventBusTelemetry.ErrorTypeAttribute, exception.GetType().FullName);
        }
    }

    private List<ConsumerGroupDescription> DescribeRegisteredGroups(Type eventType) =>
        _registry.StreamGroups.Where(g => g.EventType == eventType)
            .Select(g => new ConsumerGroupDescription(g.Group, g.HandlerType, g.Options.Workers, g.Options.Capacity ?? Options.DefaultCapacity, g.Options.StartPosition))
            .OrderBy(g => g.Group, StringComparer.Ordinal)
            .ToList();

    public BusTopology DescribeTopology()
    {
        var topics = _topicsByType.Values
            .Select(t => new TopicDescription(t.Name, t.MessageType, t.IsCommand, false, t.Subscriptions.Select(s => s.Describe()).OrderBy(s => s.Name, StringComparer.Ordinal).ToList(),
                t.Log is not null, t.Log is null ? null : DescribeRegisteredGroups(t.MessageType)))
            .ToList();

        // Handlers of interfaces and base types: described under that type, with the options they resolve to.
        foreach (var group in _registry.EventHandlers.Where(h => h.MessageType.IsInterface || h.MessageType.IsAbstract).GroupBy(h => h.MessageType))
        {
            var subscriptions = group.Select(h =>
            {
                var (settings, _) = ResolveOptions(h.MessageType, h.HandlerType, DeliveryMode.Broadcast, h.IsBatch);
                return new SubscriptionDescription(MessageTypes.GetKey(h.HandlerType), h.HandlerType, settings.Mode, settings.Workers, settings.Capacity, settings.FullPolicy,
                    settings.Redelivery.MaxDeliveries, settings.HandlerTimeout, settings.AckMode, h.IsBatch);
            }).OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
            topics.Add(new TopicDescription(MessageTypes.GetKey(group.Key), group.Key, false, true, subscriptions));
        }

        // A command's queue is created on its first enqueue (so that commands only ever sent inline start no workers); the
        // topology describes it from the options it will have, so the description does not depend on what was enqueued so far.
        foreach (var route in _commands.Values.Where(r => !_topicsByType.ContainsKey(r.CommandType)))
        {
            var (settings, _) = ResolveOptions(route.CommandType, route.Context.HandlerType, DeliveryMode.Queue, isBatch: false);
            var subscription = new SubscriptionDescription(MessageTypes.GetKey(route.Context.HandlerType), route.Context.HandlerType, settings.Mode, settings.Workers,
                settings.Capacity, settings.FullPolicy, settings.Redelivery.MaxDeliveries, settings.HandlerTimeout, settings.AckMode, IsBatch: false);
            topics.Add(new TopicDescription(route.Topic, route.CommandType, true, false, [subscription]));
        }

        var commands = _commands.Values.Select(r => new CommandDescription(r.CommandType, r.Context.HandlerType)).OrderBy(c => c.CommandType.FullName, StringComparer.Ordinal).ToList();
        return new BusTopology(topics.OrderBy(t => t.Name, StringComparer.Ordinal).ToList(), commands);
    }

    public IReadOnlyList<SubscriptionSnapshot> GetSnapshot() =>
        _topicsByType.Values.SelectMany(t => t.Subscriptions).Select(s => s.GetSnapshot())
            .OrderBy(s => s.Topic, StringComparer.Ordinal).ThenBy(s => s.Subscription, StringComparer.Ordinal).ToList();
}
