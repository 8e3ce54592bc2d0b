using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EventBus;

/// <summary>
/// The default <see cref="IIdempotencyStore"/>: claims and handled ids in memory, for the life of the container. Handled ids are
/// forgotten after <see cref="IdempotencyOptions.Window"/>, and the oldest first past <see cref="IdempotencyOptions.MaxEntries"/>.
/// </summary>
[DebuggerDisplay("{DebuggerDisplay,nq}")]
internal sealed class InMemoryIdempotencyStore : IIdempotencyStore
{
    // One lock guards the three collections below; it is held for dictionary and queue operations only, never across an await
    // or while a waiter is woken (the claim's completion runs its continuations asynchronously in any case).
    //
    // Invariants, under the lock:
    // - A key is in at most one of _inProgress and _handled: a claim removes the key's expired handled entry before it is
    //   made, and ending a claim removes it before the key is remembered.
    // - Every key in _handled has an entry in _order with its stored expiry. _order may also hold stale entries (for a key that
    //   was since re-remembered, claimed again after expiring, or evicted); a stale entry never removes a key, because it only
    //   removes one whose stored expiry is its own.
    // - _order is in the order ids were remembered, which is expiry order as long as the clock does not go back, so the expired
    //   ones are at its head.
    private readonly Lock _lock = new();

    // Claims being handled. The value is the claim's completion, created by the first copy that waits for it (so an uncontended
    // claim allocates nothing) and completed by EndAsync with whether the id was handled. In-progress claims are never evicted:
    // they are bounded by the messages in flight, and evicting one would let a copy run beside it.
    private readonly Dictionary<(string Subscription, MessageId Id), TaskCompletionSource<bool>?> _inProgress = [];

    // Ids handled successfully, with their expiry (UTC ticks).
    private readonly Dictionary<(string Subscription, MessageId Id), long> _handled = [];

    private readonly Queue<((string Subscription, MessageId Id) Key, long Expires)> _order = new();
    private readonly long _windowTicks;
    private readonly int _maxEntries;
    private readonly TimeProvider _time;

    public InMemoryIdempotencyStore(IdempotencyOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.ThrowIfInvalid();

        _windowTicks = options.Window.Ticks;
        _maxEntries = options.MaxEntries;
        _time = timeProvider ?? TimeProvider.System;
    }

    // Read without the lock: a debugger may evaluate it while a frozen thread holds the lock.
    private string DebuggerDisplay => $"{_inProgress.Count} in progress, {_handled.Count} handled";

    public ValueTask<bool> TryBeginAsync(string subscription, MessageId messageId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        var key = (subscription, messageId);
        return TryClaim(key, out var inProgress) switch
        {
            ClaimState.Claimed => new(true),
            ClaimState.Handled => new(false),
            _ => WaitThenClaimAsync(key, inProgress!, cancellationToken),
        };
    }

    public ValueTask EndAsync(string subscription, MessageId messageId, bool handled, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(subscription);
        var key = (subscription, messageId);
        TaskCompletionSource<bool>? waiters;
        lock (_lock)
        {
            // Ending an id that is not claimed remembers it (handled) or does nothing: there is no claim to release.
            _inProgress.Remove(key, out waiters);
            if (handled)
            {
                var now = _time.GetUtcNow().UtcTicks;
                var expires = now + _windowTicks;
                _handled[key] = expires;
                _order.Enqueue((key, expires));
                Trim(now);
            }
        }

        // Outside the lock, after the outcome is stored: a copy woken by a release claims again and finds the key free.
        waiters?.TrySetResult(handled);
        return default;
    }

    /// <summary>Claims <paramref name="key"/>, or says why not: it was handled within the window, or it is in progress (then <paramref name="inProgress"/> completes with its outcome).</summary>
    private ClaimState TryClaim((string Subscription, MessageId Id) key, out Task<bool>? inProgress)
    {
        var now = _time.GetUtcNow().UtcTicks;
        lock (_lock)
        {
            Debug.Assert(!(_inProgress.ContainsKey(key) && _handled.ContainsKey(key)), "A key is never both in progress and handled.");
            inProgress = null;
            if (_handled.TryGetValue(key, out var expires))
            {
                if (expires > now)
                {
                    return ClaimState.Handled;
                }

                // Expired: the key is claimed again below. Its entry in _order is now stale and is dropped when it reaches the head.
                _handled.Remove(key);
            }

            ref var claim = ref CollectionsMarshal.GetValueRefOrAddDefault(_inProgress, key, out var exists);
            if (!exists)
            {
                return ClaimState.Claimed;
            }

            claim ??= new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            inProgress = claim.Task;
            return ClaimState.InProgress;
        }
    }

    /// <summary>Waits for the copy in progress; skips when it was handled, otherwise claims again (another waiter may win, then waits for it).</summary>
    private async ValueTask<bool> WaitThenClaimAsync((string Subscription, MessageId Id) key, Task<bool> inProgress, CancellationToken cancellationToken)
    {
        while (true)
        {
            // A cancelled wait leaves the claim's completion in place for the other waiters and its owner.
            if (await inProgress.WaitAsync(cancellationToken).ConfigureAwait(false))
            {
                return false;
            }

            switch (TryClaim(key, out var next))
            {
                case ClaimState.Claimed:
                    return true;
                case ClaimState.Handled:
                    return false;
                default:
                    inProgress = next!;
                    break;
            }
        }
    }

    /// <summary>Forgets expired ids and, past the bound, the oldest ones. Called under the lock.</summary>
    private void Trim(long now)
    {
        while (_order.TryPeek(out var oldest) && (oldest.Expires <= now || _handled.Count > _maxEntries))
        {
            _order.Dequeue();
            if (_handled.TryGetValue(oldest.Key, out var stored) && stored == oldest.Expires)
            {
                _handled.Remove(oldest.Key);
            }
        }
    }

    /// <summary>What a claim attempt found.</summary>
    private enum ClaimState
    {
        Claimed,
        Handled,
        InProgress,
    }
}
