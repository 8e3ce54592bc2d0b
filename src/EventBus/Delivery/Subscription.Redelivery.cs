namespace EventBus;

/// <content>Delayed redeliveries (a queue's) and re-drives of dead letters.</content>
internal sealed partial class Subscription
{
    /// <summary>At the start of a stop: delayed redeliveries are not waited for; each is reported as unfinished.</summary>
    public void CancelScheduled()
    {
        ScheduledRedelivery[] items;
        lock (_scheduledItems)
        {
            items = [.. _scheduledItems];
            _scheduledItems.Clear();
        }

        foreach (var item in items)
        {
            item.Timer?.Dispose();
            Interlocked.Decrement(ref _scheduled);
            AbandonForStop(item.Envelope);
        }
    }

    /// <summary>Puts a dead letter back for a new round of attempts, under the topic's lock, when there is room.</summary>
    public bool TryRequeue(DeadLetter deadLetter)
    {
        var context = deadLetter.Context.ForRedrive();
        return Topic.TryWriteOne(this, new Envelope(deadLetter.Message, context));
    }

    private void Schedule(Envelope envelope, TimeSpan delay)
    {
        // Under the lock, so that Fire (which takes it) cannot run before the item is counted, and so that an observer who sees
        // the count knows the timer exists.
        var item = new ScheduledRedelivery(this, envelope);
        lock (_scheduledItems)
        {
            _scheduledItems.Add(item);
            item.Timer = _env.Time.CreateTimer(static s => ((ScheduledRedelivery)s!).Fire(), item, delay, Timeout.InfiniteTimeSpan);
            Interlocked.Increment(ref _scheduled);
            _buffered.Invalidate(); // publishers read the room again
        }
    }

    private void Fire(ScheduledRedelivery item)
    {
        lock (_scheduledItems)
        {
            if (!_scheduledItems.Remove(item))
            {
                return; // the stop took it first
            }
        }

        item.Timer?.Dispose();

        // The message moves from the scheduled side of the capacity back to the buffer side: room stays the same. It is counted
        // in the buffer before it leaves the scheduled side, so a room check in between (a waiting publisher's, outside the lock)
        // sees less room, never more. Once the topic is completed, its writer is too, and the write fails.
        bool written;
        lock (Topic.SyncRoot)
        {
            written = Append(item.Envelope);
            Interlocked.Decrement(ref _scheduled);
        }

        if (!written)
        {
            AbandonForStop(item.Envelope);
        }
    }

    private void AbandonForStop(in Envelope envelope)
    {
        _env.Failures.ReportUnfinished(new UndeliveredMessage(envelope.Message, envelope.Context.ForSubscription(Name), Topic.Name, Name, UndeliveredReason.RedeliveryAbandonedByStop, null));
        _pending?.Leave();
    }

    /// <summary>A message waiting on a timer for its delayed redelivery.</summary>
    private sealed class ScheduledRedelivery(Subscription owner, Envelope envelope)
    {
        public Envelope Envelope { get; } = envelope;

        public ITimer? Timer { get; set; }

        public void Fire() => owner.Fire(this);
    }
}
