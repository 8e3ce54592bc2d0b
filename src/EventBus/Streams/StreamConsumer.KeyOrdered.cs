using System.Threading.Channels;

namespace EventBus;

/// <content>
/// Key-ordered consumption (Pulsar Key_Shared, Kafka partitions by key): a dispatcher reads the stream in offset order and hands
/// each event to the worker its partition key maps to, so one key's events are handled one at a time in order and different keys
/// in parallel. The committed offset is the lowest offset not yet completed, tracked in a ring of completion flags as wide as the
/// group's capacity (the dispatcher never runs further ahead of it).
/// </content>
internal sealed partial class StreamConsumer
{
    private readonly Lock _completionLock = new();
    private Channel<StreamEntry>[]? _queues;
    private bool[]? _done;
    private long _low;
    private long _dispatched; // written by the dispatcher only

    private void InitializeKeyOrdered()
    {
        _queues = new Channel<StreamEntry>[_workers.Length];
        for (var i = 0; i < _queues.Length; i++)
        {
            _queues[i] = Channel.CreateUnbounded<StreamEntry>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
        }

        _done = new bool[_settings.Capacity];
    }

    private long CompletedOffset() => _queues is null ? Volatile.Read(ref _position) : Volatile.Read(ref _low);

    /// <summary>
    /// How many events the dispatcher handed to key-ordered workers that they have not taken yet: each event a worker takes gets
    /// its first attempt, so those are the dispatched events minus the workers' <paramref name="begun"/> ones (attempts that
    /// were not retries). The workers' single-reader queues cannot count their items.
    /// </summary>
    private long QueuedCount(long begun) => _queues is null ? 0 : Math.Max(0, Volatile.Read(ref _dispatched) - begun);

    private bool HasInFlight() => _queues is not null && Volatile.Read(ref _low) < Volatile.Read(ref _position);

    /// <summary>Whether the reader can take the event at <paramref name="position"/>: it is published and (key-ordered) the completion window has room.</summary>
    private bool CanRead(long position, long head) => position < head && (_queues is null || position - Volatile.Read(ref _low) < _done!.Length);

    /// <summary>Moves the reading position (and, key-ordered, the lowest incomplete offset with it: nothing is in flight).</summary>
    private void MoveTo(long position)
    {
        if (_queues is null)
        {
            Volatile.Write(ref _position, position);
            return;
        }

        lock (_completionLock)
        {
            Volatile.Write(ref _position, position);
            Volatile.Write(ref _low, position);
        }
    }

    /// <summary>Hands one event to the worker of its partition key (events without a key: spread by offset).</summary>
    private void Dispatch(in StreamEntry entry, long position)
    {
        var queues = _queues!;
        var key = entry.Record.PartitionKey;
        var worker = key is null ? (int)(position % queues.Length) : PartitionKeys.WorkerOf(key, queues.Length);
        Volatile.Write(ref _position, position + 1);
        _dispatched++;
        queues[worker].Writer.TryWrite(entry);
    }

    private async Task RunKeyOrderedAsync()
    {
        var workers = new Task[_workers.Length];
        for (var i = 0; i < workers.Length; i++)
        {
            var index = i;
            workers[i] = Task.Run(() => RunKeyWorkerAsync(_workers[index], _queues![index].Reader));
        }

        try
        {
            await ReadAsync(worker: null).ConfigureAwait(false);
        }
        finally
        {
            foreach (var queue in _queues!)
            {
                queue.Writer.TryComplete();
            }

            await Task.WhenAll(workers).ConfigureAwait(false);
        }
    }

    private async ValueTask WaitForCompletionsAsync()
    {
        _signal.BeginWait();
        await _signal.WaitUnless(!HasInFlight() || _stopRequested || _abandoned || _fault is not null).ConfigureAwait(false);
    }

    private async Task RunKeyWorkerAsync(DeliveryWorker worker, ChannelReader<StreamEntry> queue)
    {
        CurrentWorker.Owner = this;
        while (await queue.WaitToReadAsync().ConfigureAwait(false))
        {
            while (!_stopRequested && !_abandoned && _fault is null && queue.TryRead(out var entry))
            {
                var offset = entry.Offset;
                if (_settings.AckMode == AckMode.BeforeHandling)
                {
                    Complete(offset);
                }

                var handled = ProcessAsync(worker, entry);
                if (!(handled.IsCompletedSuccessfully ? handled.Result : await handled.ConfigureAwait(false)))
                {
                    _signal.Wake();
                    return;
                }

                if (_settings.AckMode != AckMode.BeforeHandling)
                {
                    Complete(offset);
                }

                LeavePending(1); // after the commit
            }

            if (_stopRequested || _abandoned || _fault is not null)
            {
                return;
            }
        }
    }

    /// <summary>Marks one offset completed, moves the lowest incomplete offset up, and commits by the group's policy.</summary>
    private void Complete(long offset)
    {
        var done = _done!;
        long low;
        lock (_completionLock)
        {
            done[offset % done.Length] = true;
            low = _low;
            while (low < _position && done[low % done.Length])
            {
                done[low % done.Length] = false;
                low++;
            }

            Volatile.Write(ref _low, low);
            if (_settings.AckMode == AckMode.BeforeHandling || ShouldCommit(low))
            {
                CommitCore(low);
            }
        }

        // The dispatcher may wait for room in the window, or for the workers to finish before a seek.
        Interlocked.MemoryBarrier();
        _signal.Wake();
    }
}
