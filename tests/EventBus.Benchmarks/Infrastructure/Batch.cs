namespace EventBus.Benchmarks.Infrastructure;

/// <summary>Awaits the end of a batch with a generous guard, so that a lost delivery fails the run with a message instead of hanging it.</summary>
public static class Batch
{
    /// <summary>How long one batch may take before the run is failed: far above any batch of any row, even under a debugger.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromMinutes(2);

    /// <summary>Awaits <paramref name="done"/>; throws if it does not complete within <see cref="Timeout"/>.</summary>
    /// <param name="done">The task returned by <see cref="CountdownSignal.Arm"/>.</param>
    /// <param name="signal">The signal, to report how many deliveries were missing.</param>
    /// <returns>A task that completes with the batch.</returns>
    public static ValueTask WhenDone(ValueTask done, CountdownSignal signal)
    {
        // The common case: awaited directly, no timer, nothing allocated.
        return done.IsCompleted ? done : WaitSlowAsync(done, signal);

        static async ValueTask WaitSlowAsync(ValueTask done, CountdownSignal signal)
        {
            // One Task and one timer per batch (not per event): amortised over the batch, they round to 0 B per operation.
            try
            {
                await done.AsTask().WaitAsync(Timeout).ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                throw new TimeoutException($"The batch did not complete within {Timeout}: {signal.Remaining} deliveries are missing.", e);
            }
        }
    }
}
