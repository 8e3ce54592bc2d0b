using System.Diagnostics;

namespace EventBus;

/// <summary>
/// Collects events on the producer side and publishes them as atomic batches (<see cref="IEventBus.PublishBatchAsync{TEvent}"/>)
/// when a batch reaches its maximum size or its linger delay has passed since its first event, like Kafka's
/// <c>batch.size</c> and <c>linger.ms</c>. Create one with <see cref="IEventBus.CreateBatcher{TEvent}(int, TimeSpan)"/>.
/// </summary>
/// <typeparam name="TEvent">The event type.</typeparam>
/// <remarks>
/// Batches are published in the order they were filled. A publish triggered by the linger timer that fails is not lost silently:
/// its exception is thrown by the next <see cref="AddAsync"/>, <see cref="FlushAsync"/> or <see cref="IAsyncDisposable.DisposeAsync"/>.
/// Dispose the batcher to publish what is left.
/// </remarks>
public interface IEventBatcher<in TEvent> : IAsyncDisposable
{
    /// <summary>Adds an event; publishes the batch when it is full (waiting for the publish, so a full bus slows the producer down).</summary>
    /// <param name="event">The event.</param>
    /// <param name="cancellationToken">Cancels waiting for a full batch's publish.</param>
    /// <returns>A task that completes when the event is in a batch (and, if the batch was full, published).</returns>
    ValueTask AddAsync(TEvent @event, CancellationToken cancellationToken = default);

    /// <summary>Publishes what has been collected now.</summary>
    /// <param name="cancellationToken">Cancels waiting for room in the bus.</param>
    /// <returns>A task that completes when every event added so far is published.</returns>
    ValueTask FlushAsync(CancellationToken cancellationToken = default);
}

/// <summary>Creates producer-side batchers for <see cref="IEventBus.CreateBatcher{TEvent}(int, TimeSpan)"/>.</summary>
internal static class EventBatcher
{
    /// <summary>Validates the batch size and the linger, then creates a batcher whose linger timer runs on <paramref name="time"/>.</summary>
    public static IEventBatcher<TEvent> Create<TEvent>(IEventBus bus, int maxBatchSize, TimeSpan linger, TimeProvider time)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(maxBatchSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBatchSize, 100_000);
        ArgumentOutOfRangeException.ThrowIfLessThan(linger, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(linger, TimeSpan.FromHours(1));
        return new EventBatcher<TEvent>(bus, maxBatchSize, linger, time);
    }
}

/// <summary>
/// Lock order: <see cref="_publishing"/> (async, serialises publishes so batches go out in fill order) before <see cref="_lock"/>
/// (guards the pending list, the timer and the stored background failure).
/// </summary>
[DebuggerDisplay("{_pending.Count} pending, max {_maxBatchSize}")]
internal sealed class EventBatcher<TEvent>(IEventBus bus, int maxBatchSize, TimeSpan linger, TimeProvider time) : IEventBatcher<TEvent>
{
    private readonly int _maxBatchSize = maxBatchSize;
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _publishing = new(1, 1);
    private List<TEvent> _pending = [];
    private ITimer? _timer;
    private Exception? _backgroundFailure;
    private Task _background = Task.CompletedTask;
    private bool _disposed;

    public async ValueTask AddAsync(TEvent @event, CancellationToken cancellationToken = default)
    {
        if (@event is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(@event));
        }

        bool full;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            ThrowBackgroundFailure();
            _pending.Add(@event);
            full = _pending.Count >= _maxBatchSize;
            if (!full && _pending.Count == 1)
            {
                _timer?.Dispose();
                _timer = time.CreateTimer(static s => ((EventBatcher<TEvent>)s!).OnLinger(), this, linger, Timeout.InfiniteTimeSpan);
            }
        }

        if (full)
        {
            await PublishPendingAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async ValueTask FlushAsync(CancellationToken cancellationToken = default)
    {
        await PublishPendingAsync(cancellationToken).ConfigureAwait(false);
        await _background.ConfigureAwait(false);
        lock (_lock)
        {
            ThrowBackgroundFailure();
        }
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        try
        {
            await FlushAsync().ConfigureAwait(false);
        }
        finally
        {
            lock (_lock)
            {
                _timer?.Dispose();
            }
        }
    }

    private void OnLinger()
    {
        lock (_lock)
        {
            _background = _background.ContinueWith(
                static (_, s) => ((EventBatcher<TEvent>)s!).PublishInBackgroundAsync(),
                this,
                CancellationToken.None,
                TaskContinuationOptions.None,
                TaskScheduler.Default).Unwrap();
        }
    }

    private async Task PublishInBackgroundAsync()
    {
        try
        {
            await PublishPendingAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            lock (_lock)
            {
                _backgroundFailure ??= e;
            }
        }
    }

    private async ValueTask PublishPendingAsync(CancellationToken cancellationToken)
    {
        await _publishing.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            List<TEvent> batch;
            lock (_lock)
            {
                if (_pending.Count == 0)
                {
                    return;
                }

                batch = _pending;
                _pending = [];
                _timer?.Dispose();
                _timer = null;
            }

            try
            {
                await bus.PublishBatchAsync(batch, null, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The batch was not accepted (a publish is all-or-nothing): put it back in front, so nothing is lost.
                lock (_lock)
                {
                    batch.AddRange(_pending);
                    _pending = batch;
                }

                throw;
            }
        }
        finally
        {
            _publishing.Release();
        }
    }

    private void ThrowBackgroundFailure()
    {
        if (_backgroundFailure is { } failure)
        {
            _backgroundFailure = null;
            throw new InvalidOperationException("A batch published by the linger timer failed; its events were not published. See the inner exception.", failure);
        }
    }
}
