using System.Diagnostics.Metrics;

namespace EventBus;

/// <content>The snapshot and the description of a subscription, and its counters.</content>
internal sealed partial class Subscription
{
    public SubscriptionSnapshot GetSnapshot()
    {
        // A pull subscription's reads count as deliveries, each acknowledged at once.
        var pulled = Interlocked.Read(ref _pulled);
        var counts = new DeliveryCounts(pulled, pulled, 0, 0, 0);
        var inFlight = 0;
        foreach (var worker in _workers)
        {
            counts += worker.Delivery.Read();
            inFlight += Volatile.Read(ref worker.Busy) == 1 ? 1 : 0;
        }

        return new SubscriptionSnapshot(Topic.Name, Name, Mode, Workers, Capacity, FullPolicy, Depth, inFlight,
            counts.Attempts, counts.Succeeded, counts.Failed, Interlocked.Read(ref _dropped), counts.Retried, counts.DeadLettered, Volatile.Read(ref _scheduled), DeadLetters.Count, State);
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
