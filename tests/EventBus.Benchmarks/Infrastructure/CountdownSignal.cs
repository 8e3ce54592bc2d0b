using System.Threading.Tasks.Sources;

namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// A reusable "all N deliveries happened" signal: <see cref="Arm"/> before a batch, <see cref="Signal"/> once per delivery,
/// await the task <see cref="Arm"/> returned. It allocates nothing per batch or per delivery, so the benchmark's
/// <c>Allocated</c> column shows only what the bus (or the baseline) allocates.
/// </summary>
/// <remarks>
/// One batch at a time: the benchmark awaits the returned task before it arms the signal again. The continuation runs
/// asynchronously so that completing the batch never runs the benchmark's code on a bus worker thread.
/// </remarks>
public sealed class CountdownSignal : IValueTaskSource
{
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };
    private int _remaining;

    /// <summary>Gets the number of deliveries still expected in the current batch.</summary>
    public int Remaining => Volatile.Read(ref _remaining);

    /// <summary>Starts a batch of <paramref name="count"/> deliveries.</summary>
    /// <param name="count">How many <see cref="Signal"/> calls complete the batch.</param>
    /// <returns>A task that completes when the last delivery of the batch has signalled.</returns>
    public ValueTask Arm(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        _core.Reset();

        // Publish the count after the reset: a delivery that sees the new count completes the new version.
        Volatile.Write(ref _remaining, count);
        return new ValueTask(this, _core.Version);
    }

    /// <summary>Counts one delivery; the last one of the batch completes the task.</summary>
    public void Signal()
    {
        var remaining = Interlocked.Decrement(ref _remaining);
        if (remaining == 0)
        {
            _core.SetResult(true);
        }
        else if (remaining < 0)
        {
            throw new InvalidOperationException($"More deliveries than the batch expected ({-remaining} extra): a message was delivered twice or the signal was not armed.");
        }
    }

    void IValueTaskSource.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
