using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace EventBus;

/// <content>Spans, metrics, snapshots and the description of a subscription.</content>
internal sealed partial class Subscription
{
    /// <summary>Gets a value indicating whether a delivery must take the instrumented path (a span or a duration to record).</summary>
    private bool Instrumented => EventBusTelemetry.Source.HasListeners() || _metrics.ProcessDuration.Enabled || _metrics.QueueDuration.Enabled;

    public SubscriptionSnapshot GetSnapshot()
    {
        long attempts = 0, succeeded = 0, failed = 0, retried = 0, deadLettered = 0;
        var inFlight = 0;
        foreach (var worker in _workers)
        {
            attempts += Volatile.Read(ref worker.Attempts);
            succeeded += Volatile.Read(ref worker.Succeeded);
            failed += Volatile.Read(ref worker.Failed);
            retried += Volatile.Read(ref worker.Retried);
            deadLettered += Volatile.Read(ref worker.DeadLettered);
            inFlight += Volatile.Read(ref worker.Busy) == 1 ? 1 : 0;
        }

        return new SubscriptionSnapshot(Topic.Name, Name, Mode, Workers, Capacity, FullPolicy, Depth, inFlight,
            attempts, succeeded, failed, Interlocked.Read(ref _dropped), retried, deadLettered, Volatile.Read(ref _scheduled), _deadLetters.Count, State);
    }

    public SubscriptionState State => _workerTasks switch
    {
        null => SubscriptionState.NotStarted,
        var tasks when Array.Exists(tasks, static t => t.IsFaulted) => SubscriptionState.Faulted,
        var tasks when Array.TrueForAll(tasks, static t => t.IsCompleted) => SubscriptionState.Stopped,
        _ => SubscriptionState.Running,
    };

    public SubscriptionDescription Describe() =>
        new(Name, HandlerType, Mode, Workers, Capacity, FullPolicy, _settings.Redelivery.MaxDeliveries, _settings.HandlerTimeout, _settings.AckMode, _invoker is BatchHandlerInvoker);

    /// <summary>Makes one attempt inside a <c>process</c> span (when traced), recording its durations (when measured).</summary>
    private async ValueTask<AttemptFailure?> AttemptAsync(WorkerState worker, object message, MessageContext context)
    {
        if (!Instrumented)
        {
            return await AttemptCoreAsync(worker, message, context).ConfigureAwait(false);
        }

        using var activity = StartProcessActivity(context, 1);
        var started = Stopwatch.GetTimestamp();
        RecordQueueDuration(context);
        var failure = await AttemptCoreAsync(worker, message, context).ConfigureAwait(false);
        EndAttempt(activity, started, failure);
        return failure;
    }

    private Activity? StartProcessActivity(in MessageContext context, int batchCount) =>
        EventBusRuntime.StartProcessActivity(Topic.Name, Name, context, batchCount);

    private void RecordQueueDuration(in MessageContext context)
    {
        if (_metrics.QueueDuration.Enabled)
        {
            _metrics.QueueDuration.Record(Math.Max(0, (_bus.TimeProvider.GetUtcNow() - context.Timestamp).TotalSeconds), EventBusMetrics.System, TopicTag, SubscriptionTag);
        }
    }

    private void EndAttempt(Activity? activity, long started, AttemptFailure? failure)
    {
        if (_metrics.ProcessDuration.Enabled)
        {
            _metrics.ProcessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, EventBusMetrics.System, TopicTag, SubscriptionTag);
        }

        EventBusRuntime.SetOutcome(activity, failure);
    }

    private void Count(Counter<long> counter, long value)
    {
        if (counter.Enabled)
        {
            counter.Add(value, EventBusMetrics.System, TopicTag, SubscriptionTag);
        }
    }
}
