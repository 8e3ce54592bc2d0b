namespace EventBus.Tests.Infrastructure;

/// <summary>Hands out probe ids and records every probe created and disposed (a singleton).</summary>
public sealed class ProbeTracker
{
    private int _lastId;

    /// <summary>Gets the ids of the probes created, in order.</summary>
    public Recorder<int> Created { get; } = new();

    /// <summary>Gets the ids of the probes disposed, in order.</summary>
    public Recorder<int> Disposed { get; } = new();

    internal int NextId() => Interlocked.Increment(ref _lastId);
}

/// <summary>A scoped dependency that knows its instance id and whether its scope has been disposed.</summary>
public sealed class ScopedProbe : IDisposable
{
    private readonly ProbeTracker _tracker;
    private int _disposed;

    public ScopedProbe(ProbeTracker tracker)
    {
        _tracker = tracker;
        Id = tracker.NextId();
        tracker.Created.Add(Id);
    }

    /// <summary>Gets the instance id (1, 2, ... per container).</summary>
    public int Id { get; }

    /// <summary>Gets a value indicating whether the probe (its scope) was disposed.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    public void Dispose()
    {
        // Recorded on every call, so that a double dispose shows up as a duplicate id.
        Volatile.Write(ref _disposed, 1);
        _tracker.Disposed.Add(Id);
    }
}
