namespace EventBus.Benchmarks;

/// <summary>The event every workload publishes, to the bus, to the raw channels and to the peers alike.</summary>
/// <param name="Sequence">The event's index in the preallocated batch.</param>
public sealed record BenchEvent(int Sequence);

/// <summary>The command of the round-trip workloads: its handler returns <c>Value + 1</c>.</summary>
/// <param name="Value">The input.</param>
public sealed record BenchCommand(int Value) : ICommand<int>;

/// <summary>Preallocated messages, created in GlobalSetup so that the message objects are not counted as allocations of the bus.</summary>
public static class BenchMessages
{
    /// <summary>Creates <paramref name="count"/> distinct events.</summary>
    /// <param name="count">How many.</param>
    /// <returns>The events.</returns>
    public static BenchEvent[] Events(int count)
    {
        var events = new BenchEvent[count];
        for (var i = 0; i < events.Length; i++)
        {
            events[i] = new BenchEvent(i);
        }

        return events;
    }
}
