using System.Diagnostics;

namespace EventBus;

/// <summary>The bus's spans, named and tagged after the OpenTelemetry semantic conventions for messaging.</summary>
internal static class Tracing
{
    /// <summary>Starts the <c>process</c> span of one delivery (a subscription's or a consumer group's), child of the publish span.</summary>
    public static Activity? StartProcessActivity(string topic, string subscription, in MessageContext context, int batchCount)
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

    public static Activity? StartProducerActivity(string operation, string destination)
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

    public static void TagMessage(Activity? activity, in MessageContext context)
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
    public static void SetOutcome(Activity? activity, AttemptFailure? failure)
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

    public static void SetError(Activity? activity, Exception exception)
    {
        if (activity is not null)
        {
            activity.SetStatus(ActivityStatusCode.Error, exception.Message);
            activity.SetTag(EventBusTelemetry.ErrorTypeAttribute, exception.GetType().FullName);

            // The OpenTelemetry exception event (exception.type, .message, .stacktrace): where the failure happened.
            activity.AddException(exception);
        }
    }
}
