using System.Diagnostics;

namespace ModularMonolith.Notifications;

/// <summary>A stand-in for an SMTP server: each send takes 100 ms; it tracks how many sends are in progress at once.</summary>
internal sealed class MailServer
{
    private readonly Stopwatch _clock = new();
    private int _sending;

    /// <summary>Sends one email. Returns when the send started (milliseconds after the first send) and how many were then in progress, itself included.</summary>
    public async Task<(long StartedAtMs, int Sending)> SendAsync(CancellationToken cancellationToken)
    {
        lock (_clock)
        {
            _clock.Start(); // no-op once running
        }

        var started = (_clock.ElapsedMilliseconds, Interlocked.Increment(ref _sending));
        try
        {
            await Task.Delay(100, cancellationToken);
            return started;
        }
        finally
        {
            Interlocked.Decrement(ref _sending);
        }
    }
}
