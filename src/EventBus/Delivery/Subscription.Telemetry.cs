using System.Diagnostics.Metrics;

namespace EventBus;

/// <content>The snapshot and the description of a subscription, and its counters.</content>
internal sealed partial class Subscription
{
    public SubscriptionSnapshot GetSnapshot()
    {
        long attempts = 0, succeeded = 0, failed = 0, retried = 0, deadLettered = 0;
        var inFlight = 0;
        foreach (var worker in _workers)
        {
            var delivery = worker.Delivery;
            attempts += Volatile.Read(ref delivery.Attempts);
            succeeded += Volatile.Read(ref delivery.Succeeded);
            failed += Volatile.Read(ref delivery.Failed);
            retried += Volatile.Read(ref delivery.Retried);
            deadLettered += Volatile.Read(ref delivery.DeadLettered);
            inFlight += Volatile.Read(ref worker.Busy) == 1 ? 1 : 0;
        }

        var pulled = Interlocked.Read(ref _pulled); // a pull subscription's reads: each delivered and acknowledged at once
        attempts += pulled;
        succeeded += pulled;

        return new SubscriptionSnapshot(Topic.Name, Name, Mode, Workers, Capacity, FullPolicy, Depth, inFlight,
            attempts, succeeded, failed, Interlocked.Read(ref _dropped), retried, deadLettered, Volatile.Read(ref _scheduled), DeadLetters.Count, State);
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

    private void Count(Counter<long> counter, long value)
    {
        if (counter.Enabled)
        {
            counter.Add(value, EventBusMetrics.System, TopicTag, SubscriptionTag);
        }
    }
}
