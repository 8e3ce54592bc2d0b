using Microsoft.Extensions.Logging;

namespace EventBus;

/// <summary>
/// What every delivery pipeline of one bus shares: its clock, its log, its instruments, its observers, the pending count, its lifecycle, and
/// where failures are reported. Subscriptions, consumer groups and command queues get this, never the bus itself.
/// </summary>
internal sealed class DeliveryEnvironment(TimeProvider time, ILogger logger, EventBusOptions options, EventBusMetrics metrics, BusObservers observers, PendingTracker? pending, BusLifecycle lifecycle, FailureReporter failures)
{
    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = logger;

    /// <summary>Gets the bus's options (read only once the bus is built).</summary>
    public EventBusOptions Options { get; } = options;

    public EventBusMetrics Metrics { get; } = metrics;

    /// <summary>Gets the bus's observers (<see cref="IEventBusObserver"/>).</summary>
    public BusObservers Observers { get; } = observers;

    /// <summary>Gets the pending-message tracker, when a test harness turned it on; otherwise null.</summary>
    public PendingTracker? Pending { get; } = pending;

    public BusLifecycle Lifecycle { get; } = lifecycle;

    public FailureReporter Failures { get; } = failures;
}
