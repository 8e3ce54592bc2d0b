using System.Runtime.CompilerServices;

namespace EventBus;

/// <content>Handling one stream event through the delivery pipeline (attempts in place, keeping the order), then the failure policy.</content>
internal sealed partial class StreamConsumer
{
    /// <summary>Handles one event until it succeeds or its failure policy applies. Returns false when the group must stop on it.</summary>
    private ValueTask<bool> ProcessAsync(DeliveryWorker worker, in StreamEntry entry)
    {
        var unit = new EntryUnit(entry, Topic);
        var pending = _pipeline.DeliverAsync(worker, unit);
        return pending.IsCompletedSuccessfully ? new(Settle(worker, unit, pending.Result)) : SettleAsync(worker, unit, pending);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> SettleAsync(DeliveryWorker worker, EntryUnit unit, ValueTask<DeliveryFailure?> pending) =>
        Settle(worker, unit, await pending.ConfigureAwait(false));

    /// <summary>
    /// Settles the event's delivery: handled, reported (at-most-once), dead-lettered (failure policy Skip), or the group stops on it:
    /// failure policy Stop, or the stop of the bus or of the group cut it short (then it stays uncommitted: lag, not loss).
    /// </summary>
    private bool Settle(DeliveryWorker worker, in EntryUnit unit, DeliveryFailure? failure)
    {
        if (failure is null)
        {
            _pipeline.Succeeded(worker, unit, 1);
            return true;
        }

        switch (failure.Verdict)
        {
            case DeliveryVerdict.Reported:
                _pipeline.Fail(worker, unit, failure);
                return true;
            case DeliveryVerdict.DeadLetter when _settings.StopOnFailure:
                _pipeline.CountFailed(worker, unit);
                var context = unit.ContextAt(0, Name, failure.Attempt);
                Log.ConsumerGroupFaulted(_env.Logger, Name, Topic, context.Offset ?? -1, failure.Attempt, failure.Failure.Exception);
                _fault = failure.Failure.Exception ?? new InvalidOperationException($"Consumer group '{Name}' on stream '{Topic}' stopped on offset {context.Offset}: {failure.Reason}");
                return false;
            case DeliveryVerdict.DeadLetter:
                _pipeline.Fail(worker, unit, failure);
                return true;
            default:
                return false;
        }
    }
}
