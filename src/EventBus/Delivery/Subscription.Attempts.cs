using System.Runtime.CompilerServices;

namespace EventBus;

/// <content>Delivering one message: attempts, acknowledgement, redelivery decisions and outcomes.</content>
internal sealed partial class Subscription
{
    /// <summary>Delivers one message until it is acknowledged, scheduled for a delayed redelivery, or dead-lettered.</summary>
    /// <remarks><paramref name="envelope"/> is the worker's own slot (<c>worker.Current</c>), which <see cref="Finish"/> clears: read it
    /// before finishing (the slow path takes a copy).</remarks>
    private ValueTask ProcessAsync(WorkerState worker, in Envelope envelope)
    {
        // Fast path (no timeout, nothing to trace or time, handler completes synchronously and succeeds): no state machine, no allocation.
        if (_settings.HandlerTimeout is null && !Instrumented)
        {
            var attempt = envelope.Context.DeliveryCount;
            var context = envelope.Context.ForDelivery(Name, attempt, worker.Settlement, worker.Settlement.Begin());
            worker.Attempts++;
            Count(_metrics.Delivered, 1);
            ValueTask pending;
            try
            {
                pending = _invoker.InvokeAsync(envelope.Message, context, _bus.HandlerCancellation);
            }
            catch (Exception e)
            {
                return ProcessSlowAsync(worker, envelope, worker.Settlement.Fail(e), default, firstAttemptMade: true);
            }

            if (!pending.IsCompletedSuccessfully)
            {
                return ProcessSlowAsync(worker, envelope, null, pending, firstAttemptMade: true);
            }

            pending.GetAwaiter().GetResult();
            if (worker.Settlement.Complete() is not { } settled)
            {
                Finish(worker, null);
                return default;
            }

            return ProcessSlowAsync(worker, envelope, settled, default, firstAttemptMade: true);
        }

        return ProcessSlowAsync(worker, envelope, null, default, firstAttemptMade: false);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ProcessSlowAsync(WorkerState worker, Envelope envelope, AttemptFailure? knownFailure, ValueTask firstPending, bool firstAttemptMade)
    {
        var attempt = envelope.Context.DeliveryCount;
        var firstFailureTicks = envelope.FirstFailureTicks;
        while (true)
        {
            // 1. The attempt's outcome: null when it succeeded.
            AttemptFailure? failure;
            if (firstAttemptMade)
            {
                firstAttemptMade = false;
                failure = knownFailure ?? await ObserveAsync(worker, firstPending, timeout: null).ConfigureAwait(false);
            }
            else
            {
                var context = envelope.Context.ForDelivery(Name, attempt, worker.Settlement, worker.Settlement.Begin());
                worker.Attempts++;
                Count(_metrics.Delivered, 1);
                failure = await AttemptAsync(worker, envelope.Message, context).ConfigureAwait(false);
            }

            if (failure is null)
            {
                Finish(worker, null);
                return;
            }

            // 2. Cut short by the bus going down, not failed by the handler: reported unfinished; never retried, counted as failed
            // or dead-lettered.
            if (_bus.IsStopFailure(failure.Exception))
            {
                var stoppedContext = envelope.Context.ForSubscription(Name).WithDeliveryCount(attempt);
                Finish(worker, () => ReportStopped(envelope.Message, stoppedContext, failure.Exception));
                return;
            }

            // 3. A failure: at-most-once reports it; otherwise redeliver (now, later, or in place) or dead-letter.
            _pending?.Failed?.Invoke(envelope.Message, envelope.Context.ForSubscription(Name).WithDeliveryCount(attempt), failure.Exception);
            var now = _bus.TimeProvider.GetUtcNow();
            if (firstFailureTicks == 0)
            {
                firstFailureTicks = now.UtcTicks;
            }

            var lastContext = envelope.Context.ForSubscription(Name).WithDeliveryCount(attempt);
            if (failure.Exception is CommandRejectedException || _settings.AckMode == AckMode.BeforeHandling)
            {
                // A rejection is the command's final outcome; at-most-once never redelivers. Both are reported, not dead-lettered.
                var reason = failure.Exception is CommandRejectedException ? UndeliveredReason.CommandRejected
                    : failure.Kind == SettlementKind.None ? UndeliveredReason.HandlerFailed : UndeliveredReason.Nacked;
                Finish(worker, () =>
                {
                    worker.Failed++;
                    Count(_metrics.Failed, 1);
                    Report(envelope.Message, lastContext, reason, failure.Exception);
                    _pending?.Leave();
                });
                return;
            }

            if (failure.Kind == SettlementKind.DeadLetter || attempt >= _settings.Redelivery.MaxDeliveries)
            {
                Finish(worker, () => DeadLetterMessage(worker, envelope.Message, lastContext, failure, attempt, new DateTimeOffset(firstFailureTicks, TimeSpan.Zero), now));
                return;
            }

            var next = attempt + 1;
            var delay = _settings.Redelivery.GetDelay(next, Random.Shared.NextDouble());
            worker.Retried++;
            Count(_metrics.Retried, 1);
            Log.Redelivering(_bus.Logger, Name, lastContext.MessageType, lastContext.MessageId, next, delay, failure.Exception);
            if (delay > TimeSpan.Zero && _bus.IsStopping)
            {
                Finish(worker, () => AbandonForStop(envelope));
                return;
            }

            if (delay > TimeSpan.Zero && Mode == DeliveryMode.Queue)
            {
                // The worker moves on; the message keeps its place in the capacity while it waits.
                var scheduled = new Envelope(envelope.Message, envelope.Context.WithDeliveryCount(next), firstFailureTicks);
                Finish(worker, () => Schedule(scheduled, delay));
                return;
            }

            if (delay > TimeSpan.Zero)
            {
                // Broadcast and key-ordered subscriptions keep their order: wait in place. A stop cuts the wait short and reports the message.
                try
                {
                    await Task.Delay(delay, _bus.TimeProvider, _bus.StoppingToken).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    Finish(worker, () => AbandonForStop(envelope));
                    return;
                }
            }

            attempt = next;
        }
    }

    /// <summary>Makes one attempt with the handler timeout, if any. Returns null on success.</summary>
    private async ValueTask<AttemptFailure?> AttemptCoreAsync(WorkerState worker, object message, MessageContext context)
    {
        var timeout = _settings.HandlerTimeout;
        if (timeout is null)
        {
            try
            {
                return await ObserveAsync(worker, _invoker.InvokeAsync(message, context, _bus.HandlerCancellation), null).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                return worker.Settlement.Fail(e);
            }
        }

        // The attempt's token fires on the timeout (timer from the bus's TimeProvider) or when the stop cancels handlers.
        using var timeoutSource = new CancellationTokenSource(timeout.Value, _bus.TimeProvider);
        using var stopLink = _bus.HandlerCancellation.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeoutSource);
        // Started on the thread pool, so that the timeout also covers a handler that blocks its thread before its first await:
        // called here, such a handler would hold the worker until it returned, and the timeout would start only then.
        var token = timeoutSource.Token;
        var pending = new ValueTask(Task.Run(() => _invoker.InvokeAsync(message, context, token).AsTask()));
        return await ObserveAsync(worker, pending, (timeoutSource, timeout.Value)).ConfigureAwait(false);
    }

    /// <summary>Awaits an attempt; with a timeout, abandons a handler that ignores its cancelled token after the grace period.</summary>
    private async ValueTask<AttemptFailure?> ObserveAsync(WorkerState worker, ValueTask pending, (CancellationTokenSource Source, TimeSpan Timeout)? timeout)
    {
        try
        {
            if (timeout is null)
            {
                await pending.ConfigureAwait(false);
            }
            else
            {
                var task = pending.AsTask();
                try
                {
                    await task.WaitAsync(timeout.Value.Timeout + _bus.Options.HandlerTimeoutGracePeriod, _bus.TimeProvider).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // The handler ignored its cancelled token: abandon it (it keeps running unobserved) and free the worker.
                    _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    return worker.Settlement.Fail(new TimeoutException($"The handler of subscription '{Name}' did not finish within its timeout of {timeout.Value.Timeout} and ignored cancellation for the grace period of {_bus.Options.HandlerTimeoutGracePeriod}; it was abandoned."));
                }
            }
        }
        catch (OperationCanceledException e) when (timeout is { } t && t.Source.IsCancellationRequested && !_bus.HandlerCancellation.IsCancellationRequested)
        {
            return worker.Settlement.Fail(new TimeoutException($"The handler of subscription '{Name}' did not finish within its timeout of {t.Timeout}.", e));
        }
        catch (Exception e)
        {
            return worker.Settlement.Fail(e);
        }

        return worker.Settlement.Complete();
    }

    /// <summary>Ends the delivery in progress: counts it, runs its outcome (unless the stop already claimed it), frees the worker.</summary>
    private void Finish(WorkerState worker, Action? failureOutcome)
    {
        // Busy 1 -> 0; if the stop already claimed this delivery (2), it was reported as unfinished: report nothing more.
        if (Interlocked.CompareExchange(ref worker.Busy, 0, 1) != 1)
        {
            Volatile.Write(ref worker.Busy, 0);
            return;
        }

        if (failureOutcome is null)
        {
            worker.Succeeded++;
            Count(_metrics.Succeeded, 1);
            // Read in place (no copy of the envelope); without a harness the arguments are not even evaluated.
            _pending?.Handled?.Invoke(worker.Current.Message, worker.Current.Context.ForSubscription(Name));
            var reply = worker.Current.Context.Reply;
            worker.Current = default; // drop the reference to the message
            _pending?.Leave();
            reply?.Complete(); // last: a sender awaiting this command resumes with the delivery counted and done
            return;
        }

        worker.Current = default;
        failureOutcome();
    }
}
