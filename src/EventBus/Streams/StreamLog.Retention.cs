namespace EventBus;

/// <content>Retention: moving the log's start, by count on publish, and by age on append and on a timer.</content>
internal sealed partial class StreamLog
{
    private void MoveStart(long start)
    {
        Volatile.Write(ref _start, start);
        while (_first != _last && _first.Base + SegmentSize <= start)
        {
            var freed = _first;
            _first = freed.Next!;
            freed.Linked = false;
            RecycleIfUnused(freed); // a reader standing on it recycles it when it moves on
        }
    }

    private void OnAppendWithAge(long timestampTicks)
    {
        TrimExpired(_time.GetUtcNow().UtcTicks);
        if (!_ageTimerArmed && !_completed)
        {
            ArmAgeTimer(timestampTicks);
        }
    }

    /// <summary>
    /// Under the lock: moves the start past every event older than the maximum age. Returns the timestamp of the oldest event
    /// kept, or <see langword="null"/> when none is left.
    /// </summary>
    private long? TrimExpired(long nowTicks)
    {
        var cutoff = nowTicks - _options.MaxAge!.Value.Ticks;
        var start = _start;
        var segment = Find(start, null);
        long? oldestKept = null;
        while (start < _next)
        {
            if (start - segment.Base == SegmentSize)
            {
                segment = segment.Next!;
            }

            var ticks = segment.Records[start - segment.Base].TimestampTicks;
            if (ticks > cutoff)
            {
                oldestKept = ticks;
                break;
            }

            start++;
        }

        if (start > _start)
        {
            MoveStart(start);
        }

        return oldestKept;
    }

    private void ArmAgeTimer(long oldestTicks)
    {
        var due = TimeSpan.FromTicks(Math.Max(0, oldestTicks + _options.MaxAge!.Value.Ticks - _time.GetUtcNow().UtcTicks));
        _ageTimer ??= _time.CreateTimer(static s => ((StreamLog)s!).OnAgeTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _ageTimer.Change(due, Timeout.InfiniteTimeSpan);
        _ageTimerArmed = true;
    }

    private void OnAgeTimer()
    {
        lock (_lock)
        {
            _ageTimerArmed = false;
            if (_completed)
            {
                return;
            }

            // The trim already read the oldest event it kept: the timer is due when that one expires.
            if (TrimExpired(_time.GetUtcNow().UtcTicks) is { } oldest)
            {
                ArmAgeTimer(oldest);
            }
        }
    }
}
