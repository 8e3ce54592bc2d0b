namespace EventBus;

/// <summary>
/// The publishers waiting for room in one consumer's backlog (a subscription's buffer, or a consumer group's backlog): one
/// completion source that every waiting publisher shares, completed by the consumer once it made room. Used by
/// <see cref="Subscription"/> and <see cref="StreamConsumer"/>; kept in a field, never copied.
/// </summary>
/// <remarks>
/// No lost wake-up: a waiter publishes the completion source, then re-checks the room; the consumer records its progress, then
/// calls <see cref="Wake"/>. Either the re-check sees the progress or the consumer sees the waiter, provided a full fence stands
/// between the consumer's write and its read in <see cref="Wake"/> (each caller says where its fence is).
/// </remarks>
internal struct RoomWaiter
{
    private TaskCompletionSource? _waiter;

    /// <summary>
    /// Waits until the consumer makes room: completes at once when <paramref name="canGoOn"/> (checked after the wait is
    /// published) says the publisher can go on; otherwise at the next <see cref="Wake"/>, or faults when
    /// <paramref name="cancellationToken"/> fires. The publisher checks the room again when it wakes.
    /// </summary>
    public Task WaitAsync<TOwner>(TOwner owner, int count, Func<TOwner, int, bool> canGoOn, CancellationToken cancellationToken)
    {
        var waiter = Volatile.Read(ref _waiter);
        if (waiter is null)
        {
            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            waiter = Interlocked.CompareExchange(ref _waiter, created, null) ?? created;
        }

        return canGoOn(owner, count) ? Task.CompletedTask : waiter.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Lets the waiting publishers re-check the room (the consumer made some, or stopped).</summary>
    public void Wake()
    {
        if (Volatile.Read(ref _waiter) is not null)
        {
            Interlocked.Exchange(ref _waiter, null)?.TrySetResult();
        }
    }
}
