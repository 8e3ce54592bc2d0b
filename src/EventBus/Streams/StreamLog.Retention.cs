namespace EventBus;

/// <content>Retention: moving the log's start, by count on publish, by age on append and on a timer, and to the default history.</content>
internal sealed partial class StreamLog
{
    private void MoveStart(long start)
    {
        Volatile.Write(ref _start, start);
        _storage.Trim(start);
    }

    /// <summary>
    /// Under the lock, with neither retention option, as <paramref name="offset"/> is appended: moves the start to the lowest offset
    /// that the default history or a group still needs (a stopped group: up to its capacity).
    /// </summary>
    private void KeepDefaultHistory(long offset)
    {
        var floor = offset - StreamOptions.DefaultHistory;
        foreach (var group in _groups)
        {
            floor = Math.Min(floor, group.Committed);
        }

        foreach (var stopped in _stoppedGroups.Values)
        {
            floor = Math.Min(floor, Math.Max(stopped.Committed, offset - stopped.Capacity));
        }

        if (floor > _start)
        {
            MoveStart(floor);
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
        var start = _storage.FindTimestamp(_start, _next, nowTicks - _options.MaxAge!.Value.Ticks + 1);
        if (start > _start)
        {
            MoveStart(start);
        }

        return start < _next ? _storage.TimestampAt(start) : null;
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
