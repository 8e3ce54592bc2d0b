using System.Diagnostics;

namespace EventBus.Tests.Infrastructure;

/// <summary>Generous timeouts for waiting on signals. Tests never sleep: they await a signal and fail if it does not come in time.</summary>
public static class Wait
{
    /// <summary>How long a test waits for something that should happen soon (30 s: generous on a loaded 2-core machine).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    /// <summary>How long a test waits for something the contract says happens promptly.</summary>
    public static readonly TimeSpan Promptly = TimeSpan.FromSeconds(10);

    /// <summary>Awaits <paramref name="task"/>, failing with <see cref="TimeoutException"/> after <paramref name="timeout"/> (default <see cref="Timeout"/>).</summary>
    public static Task Within(this Task task, TimeSpan? timeout = null) => task.WaitAsync(timeout ?? Timeout);

    /// <summary>Awaits <paramref name="task"/>, failing with <see cref="TimeoutException"/> after <paramref name="timeout"/> (default <see cref="Timeout"/>).</summary>
    public static Task<T> Within<T>(this Task<T> task, TimeSpan? timeout = null) => task.WaitAsync(timeout ?? Timeout);

    /// <summary>
    /// Yields until <paramref name="condition"/> holds. For states the bus exposes only through polling (e.g. its snapshot
    /// going idle); it never sleeps, it gives the thread pool back between checks.
    /// </summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var limit = timeout ?? Timeout;
        var watch = Stopwatch.StartNew();
        while (!condition())
        {
            if (watch.Elapsed > limit)
            {
                throw new TimeoutException($"Timed out after {limit} waiting until {what}.");
            }

            await Task.Yield();
        }
    }
}
