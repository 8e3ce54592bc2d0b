using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace EventBus;

/// <content>Handling one stream event: attempts in place (the order is kept), then the failure policy.</content>
internal sealed partial class StreamConsumer
{
    /// <summary>Handles one event until it succeeds or its failure policy applies. Returns false when the group must stop on it.</summary>
    private ValueTask<bool> ProcessAsync(WorkerState worker, in StreamEntry entry)
    {
        // Fast path (nothing traced or timed, the handler completes synchronously and succeeds): no state machine, no allocation.
        if (!Instrumented)
        {
            var settlement = worker.Settlement;
            var context = entry.ToContext(Topic, Name, 1, settlement, settlement.Begin());
            worker.Attempts++;
            Count(Metrics.Delivered);
            ValueTask pending;
            try
            {
                pending = _invoker.InvokeAsync(entry.Message, context, _bus.HandlerCancellation);
            }
            catch (Exception e)
            {
                return ProcessSlowAsync(worker, entry, settlement.Fail(e), default);
            }

            if (pending.IsCompletedSuccessfully)
            {
                pending.GetAwaiter().GetResult();
                if (settlement.Complete() is not { } settled)
                {
                    Succeed(worker, entry);
                    return new(true);
                }

                return ProcessSlowAsync(worker, entry, settled, default);
            }

            return ProcessSlowAsync(worker, entry, null, pending);
        }

        return ProcessSlowAsync(worker, entry, null, default, firstAttemptMade: false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> ProcessSlowAsync(WorkerState worker, StreamEntry entry, AttemptFailure? knownFailure, ValueTask firstPending, bool firstAttemptMade = true)
    {
        var attempt = 1;
        DateTimeOffset? firstFailure = null;
        while (true)
        {
            AttemptFailure? failure;
            if (firstAttemptMade)
            {
                firstAttemptMade = false;
                failure = knownFailure ?? await worker.Settlement.ObserveAsync(firstPending).ConfigureAwait(false);
            }
            else
            {
                failure = await AttemptAsync(worker, entry, attempt).ConfigureAwait(false);
            }

            if (failure is null)
            {
                Succeed(worker, entry);
                return true;
            }

            var context = entry.ToContext(Topic, Name, attempt);
            _pending?.Failed?.Invoke(entry.Message, context, failure.Exception);
            var now = _bus.TimeProvider.GetUtcNow();
            firstFailure ??= now;
            if (_bus.IsStopFailure(failure.Exception))
            {
                return false; // cut short by the stop of the bus: not handled, not committed
            }

            if (_settings.CommitMode == CommitMode.BeforeHandling)
            {
                return FailAtMostOnce(worker, entry, context, failure);
            }

            if (failure.Kind == SettlementKind.DeadLetter || attempt >= _settings.Redelivery.MaxDeliveries)
            {
                return Fail(worker, entry, context, failure, attempt, firstFailure.Value, now);
            }

            var next = attempt + 1;
            var delay = _settings.Redelivery.GetDelay(next, Random.Shared.NextDouble());
            Log.Redelivering(_bus.Logger, Name, context.MessageType, context.MessageId, next, delay, failure.Exception);
            Count(Metrics.Retried);
            if (delay > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(delay, _bus.TimeProvider, _bus.StoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return false; // the bus is stopping: the event stays uncommitted
                }
            }

            if (_stopRequested || _abandoned)
            {
                return false;
            }

            attempt = next;
        }
    }

    private async ValueTask<AttemptFailure?> AttemptAsync(WorkerState worker, StreamEntry entry, int attempt)
    {
        var settlement = worker.Settlement;
        var context = entry.ToContext(Topic, Name, attempt, settlement, settlement.Begin());
        worker.Attempts++;
        Count(Metrics.Delivered);
        using var activity = EventBusRuntime.StartProcessActivity(Topic, Name, context, 1);
        var started = Stopwatch.GetTimestamp();
        AttemptFailure? failure;
        try
        {
            failure = await settlement.ObserveAsync(_invoker.InvokeAsync(entry.Message, context, _bus.HandlerCancellation)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            failure = settlement.Fail(e);
        }

        if (Metrics.ProcessDuration.Enabled)
        {
            Metrics.ProcessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, EventBusMetrics.System, _log.Topic.TopicTag, GroupTag);
        }

        EventBusRuntime.SetOutcome(activity, failure);
        return failure;
    }

    private void Succeed(WorkerState worker, in StreamEntry entry)
    {
        worker.Succeeded++;
        Count(Metrics.Succeeded);
        _pending?.Handled?.Invoke(entry.Message, entry.ToContext(Topic, Name));
    }

    /// <summary>Every attempt failed: dead-letter the event and go on, or stop the group on it.</summary>
    private bool Fail(WorkerState worker, in StreamEntry entry, MessageContext context, AttemptFailure failure, int attempts, DateTimeOffset firstFailure, DateTimeOffset lastFailure)
    {
        worker.Failed++;
        Count(Metrics.Failed);
        var reason = failure.Reason ?? failure.Exception?.Message ?? "The handler failed.";
        if (_settings.OnFailure == StreamFailurePolicy.Stop)
        {
            Log.ConsumerGroupFaulted(_bus.Logger, Name, Topic, context.Offset ?? -1, attempts, failure.Exception);
            _fault = failure.Exception ?? new InvalidOperationException($"Consumer group '{Name}' on stream '{Topic}' stopped on offset {context.Offset}: {reason}");
            return false;
        }

        worker.DeadLettered++;
        Count(Metrics.DeadLettered);
        _bus.DeadLetter(_deadLetters, new DeadLetter(entry.Message, context, Topic, Name, reason, failure.Exception, attempts, firstFailure, lastFailure), failure.Exception);
        return true;
    }

    /// <summary>
    /// At-most-once (<see cref="CommitMode.BeforeHandling"/>): the event was committed before its handler ran, so a failure is final
    /// at once, as for a queue subscription acknowledged before handling: no further attempt, no dead letter; it is counted, logged
    /// and reported to <see cref="EventBusOptions.OnUndelivered"/>, and the group goes on with the next event.
    /// </summary>
    private bool FailAtMostOnce(WorkerState worker, in StreamEntry entry, MessageContext context, AttemptFailure failure)
    {
        worker.Failed++;
        Count(Metrics.Failed);
        var reason = failure.Kind == SettlementKind.None ? UndeliveredReason.HandlerFailed : UndeliveredReason.Nacked;
        _bus.ReportUndelivered(new UndeliveredMessage(entry.Message, context, Topic, Name, reason, failure.Exception));
        return true;
    }

    private void Count(System.Diagnostics.Metrics.Counter<long> counter)
    {
        if (counter.Enabled)
        {
            counter.Add(1, EventBusMetrics.System, _log.Topic.TopicTag, GroupTag);
        }
    }
}
