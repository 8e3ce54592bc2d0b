namespace ModularMonolith.Scenario;

/// <summary>Signals the end of the demo scenario: completes when the expected number of emails has been sent.</summary>
internal sealed class ScenarioProgress
{
    private readonly Lock _lock = new();
    private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
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

    /// <summary>Waits until <paramref name="expected"/> emails have been sent (counting those already sent).</summary>
    public Task WaitForEmailsAsync(int expected, TimeSpan timeout)
    {
        lock (_lock)
        {
            _expected = expected;
            if (_emailsSent >= expected)
            {
                _done.TrySetResult();
            }
        }

        return _done.Task.WaitAsync(timeout);
    }
}
