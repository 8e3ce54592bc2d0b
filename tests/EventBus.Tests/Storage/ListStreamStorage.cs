namespace EventBus.Tests.Storage;

/// <summary>
/// A second <see cref="IStreamStorage"/>, as unlike the in-memory one as the contract allows: one list of the retained records,
/// every read under the stream's lock, trimmed records released at once (so a reader never gets a trimmed record back). It also
/// checks the log's side of the contract: each call under the lock, dense offsets in order, a start that only moves forward,
/// reads of published offsets only, no read through a closed reader. A violation throws, and fails the test that caused it.
/// </summary>
internal sealed class ListStreamStorage(Lock streamLock) : IStreamStorage
{
    private readonly Lock _lock = streamLock;
    private readonly List<StreamRecord> _records = [];
    private long _start; // the offset of _records[0]
    private long _next;

    /// <summary>Gets a factory of list storages, for <c>services.AddSingleton(ListStreamStorage.Factory)</c>.</summary>
    public static IStreamStorageFactory Factory { get; } = new ListFactory();

    public void Append(long offset, in StreamRecord record)
    {
        RequireLock(nameof(Append));
        if (offset != _next)
        {
            throw new InvalidOperationException($"Append at offset {offset}, expected {_next}: offsets are dense and in order.");
        }

        _records.Add(record);
        _next++;
    }

    public void Trim(long start)
    {
        RequireLock(nameof(Trim));
        if (start < _start || start > _next)
        {
            throw new InvalidOperationException($"Trim to {start}, outside [{_start}, {_next}]: the start only moves forward, up to the head.");
        }

        _records.RemoveRange(0, (int)(start - _start));
        _start = start;
    }

    public long FindTimestamp(long from, long to, long ticks)
    {
        RequireLock(nameof(FindTimestamp));
        RequireRetained(from, to);
        for (var offset = from; offset < to; offset++)
        {
            if (_records[(int)(offset - _start)].TimestampTicks >= ticks)
            {
                return offset;
            }
        }

        return to;
    }

    public long TimestampAt(long offset)
    {
        RequireLock(nameof(TimestampAt));
        RequireRetained(offset, offset + 1);
        return _records[(int)(offset - _start)].TimestampTicks;
    }

    public IStreamStorageReader OpenReader(long offset)
    {
        RequireLock(nameof(OpenReader));
        return new Reader(this);
    }

    private void RequireLock(string method)
    {
        if (!_lock.IsHeldByCurrentThread)
        {
            throw new InvalidOperationException($"{method} called without the stream's lock.");
        }
    }

    private void RequireRetained(long from, long to)
    {
        if (from < _start || to > _next || from > to)
        {
            throw new InvalidOperationException($"[{from}, {to}) is not within the retained [{_start}, {_next}).");
        }
    }

    private sealed class Reader(ListStreamStorage storage) : IStreamStorageReader
    {
        private bool _closed;

        public bool TryRead(long offset, out StreamRecord record)
        {
            lock (storage._lock)
            {
                if (_closed)
                {
                    throw new InvalidOperationException("Read through a closed reader.");
                }

                if (offset >= storage._next)
                {
                    throw new InvalidOperationException($"Read of offset {offset}, not appended yet (head {storage._next}).");
                }

                if (offset < storage._start)
                {
                    record = default;
                    return false;
                }

                record = storage._records[(int)(offset - storage._start)];
                return true;
            }
        }

        public void Close()
        {
            storage.RequireLock(nameof(Close));
            _closed = true;
        }
    }

    private sealed class ListFactory : IStreamStorageFactory
    {
        public IStreamStorage Create(string topic, Lock streamLock) => new ListStreamStorage(streamLock);
    }
}
