namespace EventBus;

/// <summary>What <see cref="IEventBusControl.StopAsync(CancellationToken)"/> could and could not finish.</summary>
public sealed class StopReport
{
    internal StopReport(bool drained, TimeSpan elapsed, IReadOnlyList<UndeliveredMessage> unfinished, IReadOnlyList<SubscriptionSnapshot> laggingGroups)
    {
        Drained = drained;
        Elapsed = elapsed;
        Unfinished = unfinished;
        LaggingGroups = laggingGroups;
    }

    /// <summary>
    /// Gets a value indicating whether every buffered and in-flight message was handled, and every consumer group had read its stream
    /// to the end, before the stop timeout.
    /// </summary>
    public bool Drained { get; }

    /// <summary>Gets how long the stop took.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Gets the messages that subscriptions still buffered or had in flight when the stop timeout expired (empty when <see cref="Drained"/>).</summary>
    public IReadOnlyList<UndeliveredMessage> Unfinished { get; }

    /// <summary>
    /// Gets the consumer groups that had not processed every event of their stream when they stopped, each with its committed offset
    /// and lag (<see cref="SubscriptionSnapshot.CommittedOffset"/>, <see cref="SubscriptionSnapshot.Lag"/>) and its final counters.
    /// Their unread events are not lost to the group: they stay in the stream, and a group resumed on the same stream goes on from
    /// its committed offset (an in-memory stream lives as long as its bus's container). Empty when every group caught up.
    /// </summary>
    public IReadOnlyList<SubscriptionSnapshot> LaggingGroups { get; }

    /// <inheritdoc />
    public override string ToString() => Drained
        ? $"Drained in {Elapsed}"
        : $"{Unfinished.Count} message(s) unfinished, {LaggingGroups.Count} consumer group(s) behind their stream after {Elapsed}";
}
