using Microsoft.Extensions.DependencyInjection;

namespace EventBus;

/// <summary>
/// The bus's stop as deliveries see it: whether it has begun, the token that cuts delayed redeliveries short, the token that
/// cancels handlers once the stop timeout expired, and whether a failed attempt failed because the bus is going down.
/// </summary>
internal sealed class StopSignals(IServiceProvider services) : IDisposable
{
    private readonly CancellationTokenSource _handlers = new();
    private readonly CancellationTokenSource _stopping = new();
    private volatile bool _begun;

    /// <summary>Gets the token handlers receive: cancelled when the stop timeout expires (or the bus is disposed without draining).</summary>
    public CancellationToken HandlerCancellation => _handlers.Token;

    /// <summary>Gets a token cancelled when a stop begins: delayed redeliveries stop waiting.</summary>
    public CancellationToken Stopping => _stopping.Token;

    /// <summary>Gets a value indicating whether a stop has begun.</summary>
    public bool IsStopping => _begun;

    /// <summary>The stop begins: delayed redeliveries stop waiting.</summary>
    public Task BeginAsync()
    {
        _begun = true;
        return _stopping.CancelAsync();
    }

    /// <summary>The stop timeout expired: handlers still running are cancelled.</summary>
    public Task CancelHandlersAsync() => _handlers.CancelAsync();

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
