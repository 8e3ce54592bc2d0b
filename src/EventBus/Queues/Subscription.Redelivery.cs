namespace EventBus;

/// <content>Delayed redeliveries, dead letters and re-drives.</content>
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

    private void DeadLetterMessage(WorkerState worker, object message, MessageContext context, AttemptFailure failure, int deliveryCount, DateTimeOffset firstFailure, DateTimeOffset lastFailure)
    {
        worker.Failed++;
        worker.DeadLettered++;
        Count(_metrics.Failed, 1);
        Count(_metrics.DeadLettered, 1);
        var reason = failure.Reason ?? failure.Exception?.Message ?? "The handler failed.";

        // The dead letter is stored and reported before the message stops counting as pending, so that whoever waits for
        // the bus to be idle sees it (and waits for what the report callback publishes).
        _bus.DeadLetter(_deadLetters, new DeadLetter(message, context, Topic.Name, Name, reason, failure.Exception, deliveryCount, firstFailure, lastFailure), failure.Exception);
        _pending?.Leave();
    }

    private void Schedule(Envelope envelope, TimeSpan delay)
    {
        // Under the lock, so that Fire (which takes it) cannot run before the item is counted, and so that an observer who sees
        // the count knows the timer exists.
        var item = new ScheduledRedelivery(this, envelope);
        lock (_scheduledItems)
        {
            _scheduledItems.Add(item);
            item.Timer = _bus.TimeProvider.CreateTimer(static s => ((ScheduledRedelivery)s!).Fire(), item, delay, Timeout.InfiniteTimeSpan);
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

    /// <summary>
    /// A delivery the bus's going down cut short (its handler cancelled by the stop, or its DI scope refused by a disposed
    /// container): listed in the stop report, never retried or dead-lettered. The worker takes no more messages: what is still
    /// buffered is reported by the stop.
    /// </summary>
    private void ReportStopped(object message, MessageContext context, Exception? exception)
    {
        _abandoned = true;
        _bus.AddUnfinished(Report(message, context, UndeliveredReason.CancelledByStop, exception));
        _pending?.Leave();
    }

    private void AbandonForStop(in Envelope envelope)
    {
        var report = Report(envelope.Message, envelope.Context.ForSubscription(Name), UndeliveredReason.RedeliveryAbandonedByStop, null);
        _bus.AddUnfinished(report);
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
