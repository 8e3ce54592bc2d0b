namespace EventBus;

/// <summary>
/// Counts the messages the bus owns — buffered, in flight, or waiting for a delayed redelivery, over every subscription — and
/// signals when the count reaches zero. A message enters when a subscription buffers it and leaves at its final outcome
/// (handled, dead-lettered, reported, dropped), so a handler's cascade enters before the message that caused it leaves: the count
/// cannot touch zero in between. Opt-in (the test harness turns it on): one shared counter costs contention on the hot path.
/// </summary>
internal sealed class PendingTracker
{
    private readonly List<TaskCompletionSource> _waiters = [];
    private long _pending;

    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>Gets or sets the object that turned counting on (the test harness), so that it can be found from the bus.</summary>
    public object? Owner { get; set; }

    public void Enter() => Interlocked.Increment(ref _pending);

    public void Enter(long count) => Interlocked.Add(ref _pending, count);

    public void Leave(long count = 1)
    {
        if (Interlocked.Add(ref _pending, -count) == 0)
        {
            TaskCompletionSource[] ready;
            lock (_waiters)
            {
                ready = [.. _waiters];
                _waiters.Clear();
            }

            foreach (var waiter in ready)
            {
                waiter.TrySetResult();
            }
        }
    }

    /// <summary>Completes when nothing is pending (at once when nothing is now).</summary>
    public Task WaitForIdleAsync(CancellationToken cancellationToken)
    {
        lock (_waiters)
        {
            if (Pending == 0)
            {
                return Task.CompletedTask;
            }

            var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add(waiter);
            return waiter.Task.WaitAsync(cancellationToken);
        }
    }
}
