using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Queues;

/// <summary>Drives a <see cref="FakeTimeProvider"/> for timers the bus creates on its own threads.</summary>
public static class FakeClock
{
    /// <summary>
    /// Advances the clock by <paramref name="step"/> until <paramref name="condition"/> holds. For a timer the bus creates just
    /// after an observable signal: one step may land before the timer exists, the next one fires it. Bounded by <see cref="Wait.Timeout"/>.
    /// </summary>
    public static async Task AdvanceUntilAsync(FakeTimeProvider time, TimeSpan step, Func<bool> condition)
    {
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > Wait.Timeout)
            {
                throw new TimeoutException($"The condition did not hold within {Wait.Timeout} of advancing the fake clock by {step} at a time.");
            }

            time.Advance(step);
            await Task.Yield();
        }
    }
}
