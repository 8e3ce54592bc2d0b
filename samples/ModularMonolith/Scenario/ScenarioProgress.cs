namespace ModularMonolith.Scenario;

/// <summary>Signals the steps of the demo scenario: a wait completes when the expected number of emails has been sent in all.</summary>
internal sealed class ScenarioProgress
{
    private readonly Lock _lock = new();
    private TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _emailsSent;
    private int _expected = int.MaxValue;

    public void EmailSent()
    {
        lock (_lock)
        {
            if (++_emailsSent >= _expected)
            {
                _done.TrySetResult();
            }
        }
    }

    /// <summary>Waits until <paramref name="expected"/> emails have been sent since the start (counting those already sent). One wait at a time.</summary>
    public Task WaitForEmailsAsync(int expected, TimeSpan timeout)
    {
        lock (_lock)
        {
            if (_emailsSent >= expected)
            {
                return Task.CompletedTask;
            }

            // A new signal per step: the one of an earlier step has already completed.
            _expected = expected;
            _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return _done.Task.WaitAsync(timeout);
        }
    }
}
