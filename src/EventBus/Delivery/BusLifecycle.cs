using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus;

/// <summary>
/// The bus's lifecycle as its parts see it: whether it runs or has begun to stop, the token that cuts delayed redeliveries short,
/// the token that cancels handlers once the stop timeout expired, and whether a failed attempt failed because the bus is going down.
/// The runtime moves it from phase to phase; publishers, command queues, subscriptions and consumer groups read it.
/// </summary>
[DebuggerDisplay("{Phase}")]
internal sealed class BusLifecycle(IServiceProvider services) : IDisposable
{
    private readonly CancellationTokenSource _handlers = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _phase;

    /// <summary>The phases of a bus, in order; a bus goes through each at most once.</summary>
    public enum BusPhase
    {
        Created,
        Running,
        Stopping,
        Stopped,
    }

    public BusPhase Phase => (BusPhase)Volatile.Read(ref _phase);

    /// <summary>
    /// Gets the lock that phase changes hold, and so does whatever must start or stop with them (a topic or a consumer group
    /// created while the bus starts or stops is started or completed with the others).
    /// </summary>
    public Lock SyncRoot { get; } = new();

    public bool IsRunning => Phase == BusPhase.Running;

    /// <summary>Gets a value indicating whether a stop has begun (or ended).</summary>
    public bool IsStopping => Phase >= BusPhase.Stopping;

    /// <summary>Gets the token handlers receive: cancelled when the stop timeout expires (or the bus is disposed without draining).</summary>
    public CancellationToken HandlerCancellation => _handlers.Token;

    /// <summary>Gets a token cancelled when a stop begins: delayed redeliveries stop waiting.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>The bus runs. Called once, by the start.</summary>
    public void SetRunning() => Volatile.Write(ref _phase, (int)BusPhase.Running);

    /// <summary>The stop begins: nothing more is accepted and delayed redeliveries stop waiting. Returns whether the bus was running.</summary>
    public async Task<bool> BeginStopAsync()
    {
        var wasRunning = Interlocked.Exchange(ref _phase, (int)BusPhase.Stopping) == (int)BusPhase.Running;
        await _stopping.CancelAsync().ConfigureAwait(false);
        return wasRunning;
    }

    /// <summary>The stop timeout expired: handlers still running are cancelled.</summary>
    public Task CancelHandlersAsync() => _handlers.CancelAsync();

    public void SetStopped() => Volatile.Write(ref _phase, (int)BusPhase.Stopped);

    /// <summary>
    /// Whether an attempt failed because the bus is going down rather than because of the handler: its handlers were cancelled by
    /// the stop, or the container is already disposed (it disposes its services, the bus among them, after it stopped creating
    /// scopes, so a delivery can start in between). Such a message is reported unfinished, not failed or dead-lettered.
    /// </summary>
    public bool IsStopFailure(Exception? exception) => exception switch
    {
        OperationCanceledException => _handlers.IsCancellationRequested,
        ObjectDisposedException => IsContainerDisposed(),
        _ => false,
    };

    public void Dispose()
    {
        _handlers.Dispose();
        _stopping.Dispose();
    }

    /// <summary>
    /// Whether the container the bus resolves handlers from is disposed. Asked only after an <see cref="ObjectDisposedException"/>:
    /// the container itself says so by refusing a resolution, whichever container it is (each names the disposed object its own way).
    /// </summary>
    private bool IsContainerDisposed()
    {
        try
        {
            _ = services.GetService(typeof(IServiceScopeFactory));
            return false;
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
    }
}
