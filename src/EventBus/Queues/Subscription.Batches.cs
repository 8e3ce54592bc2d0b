using System.Diagnostics;

namespace EventBus;

/// <content>Batch handlers: taking batches from the buffer and delivering them as a whole.</content>
internal sealed partial class Subscription
{
    private bool TakeInto(List<Envelope> batch, int max)
    {
        while (batch.Count < max && _buffer.TryRead(out var envelope))
        {
            _buffered.Take();
            batch.Add(envelope);
        }

        if (batch.Count > 0)
        {
            _roomWaiter.Wake();
        }

        return batch.Count > 0;
    }

    /// <summary>Waits up to the batch's wait for more events, taking them as they arrive.</summary>
    private async ValueTask FillWithinAsync(List<Envelope> batch, BatchHandlerInvoker invoker)
    {
        using var deadline = new CancellationTokenSource(invoker.MaxWait, _bus.TimeProvider);
        try
        {
            while (batch.Count < invoker.MaxBatchSize && await _buffer.WaitToReadAsync(deadline.Token).ConfigureAwait(false))
            {
                TakeInto(batch, invoker.MaxBatchSize);
            }
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
        }
    }

    /// <summary>Delivers a batch until it is acknowledged or every message of it is dead-lettered. Redeliveries wait in place.</summary>
    private async ValueTask ProcessBatchAsync(WorkerState worker, BatchHandlerInvoker invoker, Envelope[] envelopes)
    {
        var messages = new object[envelopes.Length];
        for (var i = 0; i < messages.Length; i++)
        {
            messages[i] = envelopes[i].Message;
        }

        var contexts = new MessageContext[envelopes.Length];
        var firstFailure = default(DateTimeOffset?);
        for (var attempt = 1; ; attempt++)
        {
            var version = worker.Settlement.Begin();
            for (var i = 0; i < contexts.Length; i++)
            {
                contexts[i] = envelopes[i].Context.ForDelivery(Name, attempt, worker.Settlement, version);
            }

            worker.Attempts += envelopes.Length;
            Count(_metrics.Delivered, envelopes.Length);
            using var activity = Instrumented ? StartProcessActivity(contexts[0], envelopes.Length) : null;
            var started = Stopwatch.GetTimestamp();
            AttemptFailure? failure;
            using (var timeout = _settings.HandlerTimeout is { } t ? new CancellationTokenSource(t, _bus.TimeProvider) : null)
            using (timeout is null ? default : _bus.HandlerCancellation.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeout))
            {
                ValueTask pending;
                if (timeout is not null)
                {
                    // On the thread pool, so that the timeout covers a handler that blocks its thread before its first await.
                    var token = timeout.Token;
                    pending = new ValueTask(Task.Run(() => invoker.InvokeBatchAsync(messages, contexts, token).AsTask()));
                }
                else
                {
                    try
                    {
                        pending = invoker.InvokeBatchAsync(messages, contexts, _bus.HandlerCancellation);
                    }
                    catch (Exception e)
                    {
                        pending = ValueTask.FromException(e);
                    }
                }

                failure = await ObserveAsync(worker, pending, timeout is null ? null : (timeout, _settings.HandlerTimeout!.Value)).ConfigureAwait(false);
            }

            EndAttempt(activity, started, failure);

            if (failure is null)
            {
                Finish(worker, () =>
                {
                    worker.Succeeded += envelopes.Length;
                    Count(_metrics.Succeeded, envelopes.Length);
                    if (_pending?.Handled is { } handled)
                    {
                        foreach (var envelope in envelopes)
                        {
                            handled(envelope.Message, envelope.Context.ForSubscription(Name));
                        }
                    }

                    _pending?.Leave(envelopes.Length);
                });
                worker.CurrentBatch = null;
                return;
            }

            if (_bus.IsStopFailure(failure.Exception))
            {
                // Cut short by the bus going down: every message of the batch is reported unfinished, none retried or dead-lettered.
                var stoppedAttempt = attempt;
                Finish(worker, () =>
                {
                    foreach (var envelope in envelopes)
                    {
                        ReportStopped(envelope.Message, envelope.Context.ForSubscription(Name).WithDeliveryCount(stoppedAttempt), failure.Exception);
                    }
                });
                worker.CurrentBatch = null;
                return;
            }

            if (_pending?.Failed is { } failed)
            {
                foreach (var envelope in envelopes)
                {
                    failed(envelope.Message, envelope.Context.ForSubscription(Name).WithDeliveryCount(attempt), failure.Exception);
                }
            }

            var now = _bus.TimeProvider.GetUtcNow();
            firstFailure ??= now;
            var retry = _settings.AckMode == AckMode.AfterHandling && failure.Kind != SettlementKind.DeadLetter && attempt < _settings.Redelivery.MaxDeliveries;
            var delay = retry ? _settings.Redelivery.GetDelay(attempt + 1, Random.Shared.NextDouble()) : TimeSpan.Zero;
            if (retry && !(delay > TimeSpan.Zero && _bus.IsStopping))
            {
                worker.Retried += envelopes.Length;
                Count(_metrics.Retried, envelopes.Length);
                Log.Redelivering(_bus.Logger, Name, contexts[0].MessageType, contexts[0].MessageId, attempt + 1, delay, failure.Exception);
                try
                {
                    await Task.Delay(delay, _bus.TimeProvider, _bus.StoppingToken).ConfigureAwait(false);
                    continue;
                }
                catch (OperationCanceledException)
                {
                }
            }

            var lastAttempt = attempt;
            var stopping = retry; // a retry cut short by the stop
            Finish(worker, () =>
            {
                for (var i = 0; i < envelopes.Length; i++)
                {
                    var context = envelopes[i].Context.ForSubscription(Name).WithDeliveryCount(lastAttempt);
                    if (stopping)
                    {
                        AbandonForStop(envelopes[i]);
                    }
                    else if (_settings.AckMode == AckMode.BeforeHandling)
                    {
                        worker.Failed++;
                        Count(_metrics.Failed, 1);
                        Report(envelopes[i].Message, context, failure.Kind == SettlementKind.None ? UndeliveredReason.HandlerFailed : UndeliveredReason.Nacked, failure.Exception);
                        _pending?.Leave();
                    }
                    else
                    {
                        DeadLetterMessage(worker, envelopes[i].Message, context, failure, lastAttempt, firstFailure.Value, now);
                    }
                }
            });
            worker.CurrentBatch = null;
            return;
        }
    }
}
