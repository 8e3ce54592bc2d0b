namespace EventBus.Benchmarks.Peers;

/// <summary>The signal the peers' handlers count down; registered as a singleton in the peer's container.</summary>
public sealed class PeerSignals
{
    /// <summary>Gets the signal of the event handler.</summary>
    public CountdownSignal Events { get; } = new();
}

/// <summary>
/// The reply of the peers' command rows. Wolverine excludes handlers that return a primitive type and MassTransit responses
/// are messages, so both peers return this object (one allocation per round trip that the bus and the baseline do not need).
/// </summary>
/// <param name="Value">The result.</param>
public sealed record BenchReply(int Value);
