namespace ModularMonolith.Shared;

/// <summary>
/// How far a reader of a stream has got: <see cref="Next"/> is the offset of the next event it expects, and every event before
/// it has been applied. A caller that needs a read model to include a given event waits for its offset here, on a signal,
/// instead of sleeping for a guessed time.
/// </summary>
internal sealed class OffsetWatermark
{
    private readonly Lock _lock = new();
    private readonly List<(long Offset, TaskCompletionSource Reached)> _waiters = [];
    private long _next;

    /// <summary>Gets the offset of the next event the reader expects.</summary>
    public long Next
    {
        get
        {
            lock (_lock)
            {
                return _next;
            }
        }
    }

    /// <summary>Records that every event before <paramref name="next"/> has been applied, and wakes the callers waiting for no more than that.</summary>
    public void MoveTo(long next)
    {
        lock (_lock)
        {
            _next = Math.Max(_next, next);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Offset <= _next)
                {
                    _waiters[i].Reached.TrySetResult(); // continuations run asynchronously: not under this lock
                    _waiters.RemoveAt(i);
                }
            }
        }
    }

    /// <summary>Waits until every event before <paramref name="offset"/> has been applied (the stream's head: everything published so far).</summary>
    public Task WaitForAsync(long offset, TimeSpan timeout)
    {
        lock (_lock)
        {
            if (_next >= offset)
            {
                return Task.CompletedTask;
            }

            var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((offset, reached));
            return reached.Task.WaitAsync(timeout);
        }
    }
}
