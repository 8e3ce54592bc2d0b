using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EventBus;

/// <content>Offsets: commits (automatic, manual, from a handler), the offset store, seeks (replay), and the room a publisher sees.</content>
internal sealed partial class StreamConsumer
{
    public async ValueTask<long> SeekAsync(StreamPosition position, CancellationToken cancellationToken = default)
    {
        if (IsReserved)
        {
            return await SeekReservedAsync(position, cancellationToken).ConfigureAwait(false);
        }

        var request = new SeekRequest(position);
        if (_completion.Task.IsCompleted || _task is null)
        {
            throw new InvalidOperationException($"Consumer group '{Name}' on stream '{Topic}' is not running; seek a stopped group with IEventStreams.SeekAsync.");
        }

        Interlocked.Exchange(ref _seek, request)?.Done.TrySetCanceled(CancellationToken.None);
        Interlocked.MemoryBarrier();
        _signal.Wake();
        if (_completion.Task.IsCompleted)
        {
            request.Done.TrySetException(new InvalidOperationException($"Consumer group '{Name}' on stream '{Topic}' stopped before the seek was applied."));
        }

        return await request.Done.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Seeks a group that joined the stream when the bus was built and has not started: it commits there (so the start goes on from
    /// it), and from now on holds the stream from there.
    /// </summary>
    private async ValueTask<long> SeekReservedAsync(StreamPosition position, CancellationToken cancellationToken)
    {
        long offset;
        lock (_log.Lock)
        {
            if (!IsReserved)
            {
                throw new InvalidOperationException($"Consumer group '{Name}' on stream '{Topic}' started while the seek was asked for; seek it again.");
            }

            offset = _log.Resolve(position);
            MoveCommittedTo(offset);
        }

        _roomWaiter.Wake();
        await _owner.OffsetStore.SaveAsync(Topic, Name, offset, cancellationToken).ConfigureAwait(false);
        return offset;
    }

    /// <summary>
    /// Under the log's lock, with nothing in flight: moves the position and the committed offset to <paramref name="offset"/>,
    /// forward or back (a seek), and with them the events the group counts as pending (from there to the head).
    /// </summary>
    private void MoveCommittedTo(long offset)
    {
        Debug.Assert(_log.Lock.IsHeldByCurrentThread, "A seek moves the group under the log's lock.");
        Room.Invalidate(); // the committed offset may move back
        var old = _position;
        MoveTo(offset);
        Volatile.Write(ref _committed, offset);
        if (offset < old)
        {
            EnterPending(old - offset);
        }
        else
        {
            LeavePending(offset - old);
        }
    }

    public void CommitFromHandler(long nextOffset)
    {
        CommitCore(nextOffset);
        _storeDirty = _slot is null;
    }

    private bool ShouldCommit(long offset)
    {
        if (offset - _committed >= _settings.CommitEvery)
        {
            return true;
        }

        return _settings.CommitInterval is { } interval && _env.Time.GetElapsedTime(_lastCommitTimestamp) >= interval;
    }

    /// <summary>Moves the committed offset forward (never back, except by a seek); the store is written now (in memory) or by <see cref="FlushStoreAsync"/>.</summary>
    private void CommitCore(long offset)
    {
        if (offset <= Volatile.Read(ref _committed))
        {
            return;
        }

        Volatile.Write(ref _committed, offset);
        if (_settings.CommitInterval is not null)
        {
            _lastCommitTimestamp = _env.Time.GetTimestamp();
        }

        if (_slot is not null)
        {
            _slot.Write(offset);
        }
        else
        {
            _storeDirty = true;
        }

        // Publishers waiting for this group's backlog re-check.
        _roomWaiter.Wake();
    }

    private void FlushCommit()
    {
        if (_settings.AckMode != AckMode.Manual)
        {
            CommitCore(CompletedOffset());
        }
    }

    private async ValueTask FlushStoreAsync()
    {
        _storeDirty = false;
        var offset = Committed;
        if (offset != Interlocked.Read(ref _stored))
        {
            await SaveAsync(offset, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private async ValueTask SaveAsync(long offset, CancellationToken cancellationToken)
    {
        try
        {
            await _store!.SaveAsync(Topic, Name, offset, cancellationToken).ConfigureAwait(false);
            Interlocked.Exchange(ref _stored, offset);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The offset stays committed in memory; the next commit tries the store again.
            _storeDirty = true;
            Log.OffsetStoreFailed(_env.Logger, Name, Topic, offset, e);
        }
    }

    private async ValueTask ApplySeekAsync()
    {
        if (HasInFlight())
        {
            // Key-ordered: the workers finish what they hold first; they wake the dispatcher as they complete.
            _signal.BeginWait();
            await _signal.WaitUnless(!HasInFlight() || _stopRequested || _abandoned).ConfigureAwait(false);

            return;
        }

        var request = Interlocked.Exchange(ref _seek, null);
        if (request is null)
        {
            return;
        }

        long offset;
        lock (_log.Lock)
        {
            offset = _log.Resolve(request.Position);
            MoveCommittedTo(offset);
        }

        _slot?.Write(offset);
        await SaveAsync(offset, CancellationToken.None).ConfigureAwait(false);
        _roomWaiter.Wake();

        request.Done.TrySetResult(offset);
    }

    /// <summary>
    /// The highest head a publish may reach without looking at the group again: the committed offset plus the capacity, as last
    /// read. The committed offset only grows (but by a seek, which resets this), so the limit is safe to use until reached; then
    /// the publisher reads the committed offset again. This spares a read of a cache line the group's worker writes on every
    /// event. Kept in its own object, away from the worker's fields.
    /// </summary>
    [StructLayout(LayoutKind.Explicit)]
    internal sealed class RoomCache(StreamConsumer owner)
    {
        [FieldOffset(0)]
        private readonly StreamConsumer _owner = owner;

        // In the middle of the object: its cache line holds nothing of a neighbouring object.
        [FieldOffset(64)]
        private RoomLimit _limit;

#pragma warning disable CS0169, IDE0051 // Never read: it keeps the limit's cache line off the next object.
        [FieldOffset(128)]
        private readonly long _end;
#pragma warning restore CS0169, IDE0051

        public bool HasRoom(long head, int count) => _limit.Covers(head + count) || _limit.Refresh(head + count, _owner.Committed + _owner.Capacity);

        public void Invalidate() => _limit.Invalidate();
    }

    /// <summary>A seek waiting for the group's worker to apply it.</summary>
    private sealed class SeekRequest(StreamPosition position)
    {
        public StreamPosition Position { get; } = position;

        public TaskCompletionSource<long> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
