namespace EventBus;

/// <summary>What <see cref="IEventBusControl.StopAsync(CancellationToken)"/> could and could not finish.</summary>
public sealed class StopReport
{
    internal StopReport(bool drained, TimeSpan elapsed, IReadOnlyList<UndeliveredMessage> unfinished)
    {
        Drained = drained;
        Elapsed = elapsed;
        Unfinished = unfinished;
    }

    /// <summary>Gets a value indicating whether every buffered and in-flight message was handled before the stop timeout.</summary>
    public bool Drained { get; }

    /// <summary>Gets how long the stop took.</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Gets the messages that were still buffered or in flight when the stop timeout expired (empty when <see cref="Drained"/>).</summary>
    public IReadOnlyList<UndeliveredMessage> Unfinished { get; }

    /// <inheritdoc />
    public override string ToString() => Drained ? $"Drained in {Elapsed}" : $"{Unfinished.Count} message(s) unfinished after {Elapsed}";
}
