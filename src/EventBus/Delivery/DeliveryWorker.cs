namespace EventBus;

/// <summary>
/// What one worker of a subscription or consumer group carries from delivery to delivery: its settlement (how the handler settled
/// the delivery in progress) and its counters. Written by that worker only; read by snapshots.
/// </summary>
internal sealed class DeliveryWorker(IStreamCommitter? committer = null)
{
    public readonly Settlement Settlement = new() { Committer = committer };
    public long Attempts;
    public long Succeeded;
    public long Failed;
    public long Retried;
    public long DeadLettered;

    /// <summary>Reads the worker's counters, for a snapshot taken on another thread.</summary>
    public DeliveryCounts Read() => new(
        Volatile.Read(ref Attempts), Volatile.Read(ref Succeeded), Volatile.Read(ref Failed), Volatile.Read(ref Retried), Volatile.Read(ref DeadLettered));

    /// <summary>Set when the worker's owner is leaving (a consumer group stopped): a failed delivery is not attempted again.</summary>
    public volatile bool Leaving;

    // Workers write their counters on every message and are allocated back to back, so without padding two workers' fields share
    // cache lines and every write invalidates the other core's copy (false sharing).
#pragma warning disable CS0169 // Never read: it only takes up space.
    private readonly CacheLinePadding _padding;
#pragma warning restore CS0169
}

/// <summary>The counters of one worker, or the sum of several: what a subscription's or a group's snapshot reports.</summary>
internal readonly record struct DeliveryCounts(long Attempts, long Succeeded, long Failed, long Retried, long DeadLettered)
{
    /// <summary>
    /// Gets a value indicating whether the worker holds a message it has not settled: its attempts minus its retries count the
    /// messages it began, and those that succeeded or failed for good are settled. None while a redelivery waits for its delay
    /// (the retry is counted before the next attempt).
    /// </summary>
    public bool HoldsOne => Attempts - Retried - Succeeded - Failed > 0;

    public static DeliveryCounts operator +(DeliveryCounts left, DeliveryCounts right) => new(
        left.Attempts + right.Attempts, left.Succeeded + right.Succeeded, left.Failed + right.Failed, left.Retried + right.Retried, left.DeadLettered + right.DeadLettered);
}
