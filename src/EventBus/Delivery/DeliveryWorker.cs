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

    /// <summary>Set when the worker's owner is leaving (a consumer group stopped): a failed delivery is not attempted again.</summary>
    public volatile bool Leaving;

    // Workers write their counters on every message and are allocated back to back, so without padding two workers' fields share
    // cache lines and every write invalidates the other core's copy (false sharing).
#pragma warning disable CS0169 // Never read: it only takes up space.
    private readonly CacheLinePadding _padding;
#pragma warning restore CS0169
}
