using System.Runtime.CompilerServices;

namespace EventBus;

/// <content>Delivering through the pipeline, and settling what the pipeline decided, unless the stop claimed the delivery first.</content>
internal sealed partial class Subscription
{
    /// <summary>Delivers one message until it is acknowledged, scheduled for a delayed redelivery, or finally failed.</summary>
    /// <remarks><paramref name="envelope"/> is the worker's own slot (<c>worker.Current</c>), which <see cref="Claim"/> clears.</remarks>
    private ValueTask ProcessAsync(WorkerState worker, in Envelope envelope)
    {
        var unit = new EnvelopeUnit(envelope.Message, envelope.Context);
        var attempt = unit.Context.DeliveryCount;
        var pending = _pipeline.DeliverAsync(worker.Delivery, unit, attempt, envelope.FirstFailureTicks);
        if (pending.IsCompletedSuccessfully)
        {
            Settle(worker, unit, attempt, pending.Result);
            return default;
        }

        return SettleAsync(worker, unit, attempt, pending);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SettleAsync(WorkerState worker, EnvelopeUnit unit, int attempt, ValueTask<DeliveryFailure?> pending) =>
        Settle(worker, unit, attempt, await pending.ConfigureAwait(false));

    /// <summary>Settles one message's delivery: acknowledged (its sender, if any, resumes), rescheduled, reported or dead-lettered.</summary>
    private void Settle(WorkerState worker, in EnvelopeUnit unit, int attempt, DeliveryFailure? failure)
    {
        if (!Claim(worker))
        {
            return;
        }

        if (failure is null)
        {
            _pipeline.Succeeded(worker.Delivery, unit, attempt);
            _pending?.Leave();
            unit.Context.Reply?.Complete(); // last: a sender awaiting this command resumes with the delivery counted and done
            return;
        }

        if (failure.Verdict == DeliveryVerdict.Scheduled)
        {
            // The worker moves on; the message keeps its place in the capacity while it waits.
            Schedule(new Envelope(unit.Message, unit.Context.WithDeliveryCount(failure.Attempt), failure.FirstFailureTicks), failure.Delay);
            return;
        }

        SettleFailure(worker, unit, failure);
    }

    /// <summary>Delivers a batch until it is acknowledged or every message of it is finally failed. Redeliveries wait in place.</summary>
    private async ValueTask ProcessBatchAsync(WorkerState worker, Envelope[] envelopes)
    {
        var messages = new object[envelopes.Length];
        for (var i = 0; i < messages.Length; i++)
        {
            messages[i] = envelopes[i].Message;
        }

        var unit = new BatchUnit(messages, envelopes);
        var failure = await _pipeline.DeliverAsync(worker.Delivery, unit).ConfigureAwait(false);
        if (Claim(worker))
        {
            if (failure is null)
            {
                _pipeline.Succeeded(worker.Delivery, unit, 1);
                _pending?.Leave(envelopes.Length);
            }
            else
            {
                SettleFailure(worker, unit, failure);
            }
        }

        worker.CurrentBatch = null;
    }

    /// <summary>
    /// Ends the delivery in progress on this worker: frees it, and returns whether its outcome is still to be settled here (false
    /// when the stop claimed it and reported it unfinished). Clears the worker's slot, so that the message is not kept alive.
    /// </summary>
    private static bool Claim(WorkerState worker)
    {
        worker.Current = default;

        // Busy 1 -> 0; if the stop already claimed this delivery (2), it was reported as unfinished: report nothing more.
        if (Interlocked.CompareExchange(ref worker.Busy, 0, 1) != 1)
        {
            Volatile.Write(ref worker.Busy, 0);
            return false;
        }

        return true;
    }

    /// <summary>Settles a delivery that failed for good or that the stop ended; each message stops counting as pending once reported.</summary>
    private void SettleFailure<TUnit>(WorkerState worker, in TUnit unit, DeliveryFailure failure)
        where TUnit : struct, IDeliveryUnit
    {
        switch (failure.Verdict)
        {
            case DeliveryVerdict.CutShortByStop:
                // The bus is going down: this worker takes no more messages; what is buffered is reported by the stop.
                _abandoned = true;
                _pipeline.ReportUnfinished(unit, failure);
                break;
            case DeliveryVerdict.RedeliveryAbandoned or DeliveryVerdict.Left:
                _pipeline.ReportUnfinished(unit, failure);
                break;
            default:
                // Stored and reported before the messages stop counting as pending, so that whoever waits for the bus to be idle
                // sees them (and waits for what the report callback publishes).
                _pipeline.Fail(worker.Delivery, unit, failure);
                break;
        }

        _pending?.Leave(unit.Count);
    }
}
