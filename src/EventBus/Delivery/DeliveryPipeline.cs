using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventBus;

/// <summary>The resolved delivery options of one subscription, consumer group or command queue.</summary>
/// <param name="HandlerTimeout">How long one attempt may run, or null.</param>
/// <param name="Redelivery">How often and when a failed delivery is attempted again.</param>
/// <param name="AtMostOnce">Whether the message was acknowledged (or committed) before its handler ran: a failure is final at once.</param>
/// <param name="RedeliverInPlace">Whether a delayed redelivery waits on the worker (to keep the order) rather than being scheduled by the owner (a queue).</param>
internal sealed record DeliverySettings(TimeSpan? HandlerTimeout, RedeliveryOptions Redelivery, bool AtMostOnce, bool RedeliverInPlace);

/// <summary>
/// The one delivery pipeline of every subscription, consumer group, batch handler and command queue: it makes the attempts (the
/// handler through its invoker, under the handler timeout, traced and timed) until one succeeds or the failure is final, redelivers
/// (at once, after a delay in place, or handing a delayed one back to the owner to schedule), and settles final outcomes the same
/// way for every owner: counted, reported, dead-lettered.
/// </summary>
/// <remarks>
/// The owner (the worker loop that took the message) decides only what is its own: whether the outcome is still its to settle (a
/// stop may have claimed the delivery), what "done" means for it (a buffer slot freed, an offset committed, a reply completed), and
/// how a delayed redelivery is scheduled or a consumer group stopped.
/// </remarks>
[DebuggerDisplay("{Name,nq} on {Topic,nq}")]
internal sealed class DeliveryPipeline
{
    private readonly DeliveryEnvironment _env;
    private readonly HandlerInvoker _invoker;
    private readonly DeliverySettings _settings;
    private readonly EventBusMetrics _metrics;
    private readonly BusObservers _observers;
    private readonly bool _logScopes;

    public DeliveryPipeline(DeliveryEnvironment env, HandlerInvoker invoker, DeliverySettings settings, string topic, string name, int deadLetterCapacity)
    {
        _env = env;
        _invoker = invoker;
        _settings = settings;
        _metrics = env.Metrics;
        _observers = env.Observers;
        _logScopes = env.Options.LogScopes && env.Logger is not NullLogger;
        Topic = topic;
        Name = name;
        TopicTag = new(EventBusTelemetry.DestinationAttribute, topic);
        ConsumerTag = new(EventBusTelemetry.ConsumerGroupAttribute, name);
        DeadLetters = new DeadLetterStore(deadLetterCapacity);
    }

    /// <summary>Gets the topic's name.</summary>
    public string Topic { get; }

    /// <summary>Gets the subscription's or group's name: the envelopes' <see cref="MessageContext.Subscription"/>.</summary>
    public string Name { get; }

    public KeyValuePair<string, object?> TopicTag { get; }

    public KeyValuePair<string, object?> ConsumerTag { get; }

    public DeliverySettings Settings => _settings;

    public HandlerInvoker Invoker => _invoker;

    public DeadLetterStore DeadLetters { get; }

    /// <summary>Gets a value indicating whether a delivery must take the instrumented path (a span or a duration to record).</summary>
    private bool Instrumented => EventBusTelemetry.Source.HasListeners() || _metrics.ProcessDuration.Enabled || _metrics.QueueDuration.Enabled;

    /// <summary>
    /// Delivers <paramref name="unit"/> from attempt <paramref name="attempt"/> until an attempt succeeds (null) or the delivery ends
    /// otherwise (its <see cref="DeliveryFailure"/>). Settles nothing: the owner settles the outcome it still owns.
    /// </summary>
    /// <remarks>
    /// Fast path (no timeout, nothing to trace or time, the handler completes synchronously and succeeds): no state machine, no
    /// allocation. <paramref name="firstFailureTicks"/> is nonzero for a redelivery the owner scheduled.
    /// </remarks>
    public ValueTask<DeliveryFailure?> DeliverAsync<TUnit>(DeliveryWorker worker, in TUnit unit, int attempt = 1, long firstFailureTicks = 0)
        where TUnit : struct, IDeliveryUnit
    {
        if (_settings.HandlerTimeout is not null || Instrumented)
        {
            return DeliverSlowAsync(worker, unit, attempt, firstFailureTicks, null, default, firstAttemptMade: false);
        }

        var settlement = worker.Settlement;
        var version = settlement.Begin();
        worker.Attempts += unit.Count;
        Count(_metrics.Delivered, unit.Count);
        ValueTask pending;
        try
        {
            pending = Invoke(unit, attempt, settlement, version, _env.Lifecycle.HandlerCancellation);
        }
        catch (Exception e)
        {
            return DeliverSlowAsync(worker, unit, attempt, firstFailureTicks, settlement.Fail(e), default, firstAttemptMade: true);
        }

        if (!pending.IsCompletedSuccessfully)
        {
            return DeliverSlowAsync(worker, unit, attempt, firstFailureTicks, null, pending, firstAttemptMade: true);
        }

        pending.GetAwaiter().GetResult();
        return settlement.Complete() is { } settled
            ? DeliverSlowAsync(worker, unit, attempt, firstFailureTicks, settled, default, firstAttemptMade: true)
            : default;
    }

    /// <summary>The delivery succeeded: counts it and tells the observers. Called by the owner once the outcome is its own.</summary>
    public void Succeeded<TUnit>(DeliveryWorker worker, in TUnit unit, int attempt)
        where TUnit : struct, IDeliveryUnit
    {
        worker.Succeeded += unit.Count;
        Count(_metrics.Succeeded, unit.Count);
        if (_observers.Any)
        {
            for (var i = 0; i < unit.Count; i++)
            {
                _observers.Handled(unit.MessageAt(i), unit.ContextAt(i, Name, attempt));
            }
        }
    }

    /// <summary>Counts a final failure that its owner settles its own way (a consumer group that stops on it).</summary>
    public void CountFailed<TUnit>(DeliveryWorker worker, in TUnit unit)
        where TUnit : struct, IDeliveryUnit
    {
        worker.Failed += unit.Count;
        Count(_metrics.Failed, unit.Count);
    }

    /// <summary>
    /// Settles a final failure (<see cref="DeliveryVerdict.Reported"/> or <see cref="DeliveryVerdict.DeadLetter"/>) of every message of
    /// the unit: counted, then reported, or dead-lettered with its death record.
    /// </summary>
    public void Fail<TUnit>(DeliveryWorker worker, in TUnit unit, DeliveryFailure failure)
        where TUnit : struct, IDeliveryUnit
    {
        Debug.Assert(failure.Verdict is DeliveryVerdict.Reported or DeliveryVerdict.DeadLetter, "Only final failures are settled here.");
        CountFailed(worker, unit);
        for (var i = 0; i < unit.Count; i++)
        {
            var context = unit.ContextAt(i, Name, failure.Attempt);
            if (failure.Verdict == DeliveryVerdict.Reported)
            {
                _env.Failures.Report(new UndeliveredMessage(unit.MessageAt(i), context, Topic, Name, failure.ReportReason, failure.Failure.Exception));
                continue;
            }

            worker.DeadLettered++;
            Count(_metrics.DeadLettered, 1);
            _env.Failures.DeadLetter(DeadLetters, new DeadLetter(unit.MessageAt(i), context, Topic, Name, failure.Reason, failure.Failure.Exception, failure.Attempt, failure.FirstFailure, failure.LastFailure), failure.Failure.Exception);
        }
    }

    /// <summary>
    /// Reports every message of a delivery the stop ended (<see cref="DeliveryVerdict.CutShortByStop"/> or
    /// <see cref="DeliveryVerdict.RedeliveryAbandoned"/>) as unfinished, for the stop's report: not failed, not dead-lettered.
    /// </summary>
    public void ReportUnfinished<TUnit>(in TUnit unit, DeliveryFailure failure)
        where TUnit : struct, IDeliveryUnit
    {
        var (reason, exception) = failure.Verdict == DeliveryVerdict.CutShortByStop
            ? (UndeliveredReason.CancelledByStop, failure.Failure.Exception)
            : (UndeliveredReason.RedeliveryAbandonedByStop, null);
        for (var i = 0; i < unit.Count; i++)
        {
            _env.Failures.ReportUnfinished(new UndeliveredMessage(unit.MessageAt(i), unit.ContextAt(i, Name, failure.Attempt), Topic, Name, reason, exception));
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<DeliveryFailure?> DeliverSlowAsync<TUnit>(DeliveryWorker worker, TUnit unit, int attempt, long firstFailureTicks, AttemptFailure? knownFailure, ValueTask firstPending, bool firstAttemptMade)
        where TUnit : struct, IDeliveryUnit
    {
        while (true)
        {
            // 1. The attempt's outcome: null when it succeeded.
            AttemptFailure? failure;
            if (firstAttemptMade)
            {
                firstAttemptMade = false;
                failure = knownFailure ?? await ObserveAsync(worker.Settlement, firstPending, timeout: null).ConfigureAwait(false);
            }
            else
            {
                failure = await AttemptAsync(worker, unit, attempt).ConfigureAwait(false);
            }

            if (failure is null)
            {
                return null;
            }

            // 2. Cut short by the bus going down, not failed by the handler: never attempted again, counted or dead-lettered.
            var now = _env.Time.GetUtcNow();
            if (firstFailureTicks == 0)
            {
                firstFailureTicks = now.UtcTicks;
            }

            if (_env.Lifecycle.IsStopFailure(failure.Exception))
            {
                return new DeliveryFailure(DeliveryVerdict.CutShortByStop, failure, attempt, firstFailureTicks, now);
            }

            if (_observers.Any)
            {
                for (var i = 0; i < unit.Count; i++)
                {
                    _observers.AttemptFailed(unit.MessageAt(i), unit.ContextAt(i, Name, attempt), failure.Exception);
                }
            }

            // 3. Final: a command's rejection and an at-most-once failure are reported; spent attempts or the handler's own
            // dead-letter request are dead-lettered.
            if (failure.Exception is CommandRejectedException || _settings.AtMostOnce)
            {
                return new DeliveryFailure(DeliveryVerdict.Reported, failure, attempt, firstFailureTicks, now);
            }

            if (failure.Kind == SettlementKind.DeadLetter || attempt >= _settings.Redelivery.MaxDeliveries)
            {
                return new DeliveryFailure(DeliveryVerdict.DeadLetter, failure, attempt, firstFailureTicks, now);
            }

            // 4. Redelivered: now, after a delay in place, or scheduled by the owner.
            var next = attempt + 1;
            var delay = _settings.Redelivery.GetDelay(next, Random.Shared.NextDouble());
            worker.Retried += unit.Count;
            Count(_metrics.Retried, unit.Count);
            var first = unit.ContextAt(0, Name, attempt);
            Log.Redelivering(_env.Logger, Name, first.MessageType, first.MessageId, next, delay, failure.Exception);
            if (delay > TimeSpan.Zero)
            {
                if (_env.Lifecycle.IsStopping)
                {
                    return new DeliveryFailure(DeliveryVerdict.RedeliveryAbandoned, failure, attempt, firstFailureTicks, now);
                }

                if (!_settings.RedeliverInPlace)
                {
                    return new DeliveryFailure(DeliveryVerdict.Scheduled, failure, next, firstFailureTicks, now, delay);
                }

                try
                {
                    await Task.Delay(delay, _env.Time, _env.Lifecycle.Stopping).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return new DeliveryFailure(DeliveryVerdict.RedeliveryAbandoned, failure, attempt, firstFailureTicks, now);
                }
            }

            if (worker.Leaving)
            {
                return new DeliveryFailure(DeliveryVerdict.Left, failure, attempt, firstFailureTicks, now);
            }

            attempt = next;
        }
    }

    /// <summary>Makes one attempt inside a <c>process</c> span (when traced), recording its durations (when measured). Returns null on success.</summary>
    private async ValueTask<AttemptFailure?> AttemptAsync<TUnit>(DeliveryWorker worker, TUnit unit, int attempt)
        where TUnit : struct, IDeliveryUnit
    {
        var settlement = worker.Settlement;
        var version = settlement.Begin();
        worker.Attempts += unit.Count;
        Count(_metrics.Delivered, unit.Count);
        if (!Instrumented)
        {
            return await InvokeAsync(settlement, unit, attempt, version).ConfigureAwait(false);
        }

        var context = unit.ContextAt(0, Name, attempt);
        using var activity = Tracing.StartProcessActivity(Topic, Name, context, unit.Count);
        var started = Stopwatch.GetTimestamp();
        if (_metrics.QueueDuration.Enabled)
        {
            _metrics.QueueDuration.Record(Math.Max(0, (_env.Time.GetUtcNow() - context.Timestamp).TotalSeconds), EventBusMetrics.System, TopicTag, ConsumerTag);
        }

        var failure = await InvokeAsync(settlement, unit, attempt, version).ConfigureAwait(false);
        if (_metrics.ProcessDuration.Enabled)
        {
            _metrics.ProcessDuration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, EventBusMetrics.System, TopicTag, ConsumerTag);
        }

        Tracing.SetOutcome(activity, failure);
        return failure;
    }

    /// <summary>Calls the handler once, with the handler timeout, if any. Returns null on success.</summary>
    private async ValueTask<AttemptFailure?> InvokeAsync<TUnit>(Settlement settlement, TUnit unit, int attempt, int version)
        where TUnit : struct, IDeliveryUnit
    {
        if (_settings.HandlerTimeout is not { } timeout)
        {
            ValueTask pending;
            try
            {
                pending = Invoke(unit, attempt, settlement, version, _env.Lifecycle.HandlerCancellation);
            }
            catch (Exception e)
            {
                return settlement.Fail(e);
            }

            return await ObserveAsync(settlement, pending, null).ConfigureAwait(false);
        }

        // The attempt's token fires on the timeout (timer from the bus's TimeProvider) or when the stop cancels handlers.
        using var timeoutSource = new CancellationTokenSource(timeout, _env.Time);
        using var stopLink = _env.Lifecycle.HandlerCancellation.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), timeoutSource);

        // Started on the thread pool, so that the timeout also covers a handler that blocks its thread before its first await:
        // called here, such a handler would hold the worker until it returned, and the timeout would start only then.
        var token = timeoutSource.Token;
        var started = new ValueTask(Task.Run(() => Invoke(unit, attempt, settlement, version, token).AsTask()));
        return await ObserveAsync(settlement, started, (timeoutSource, timeout)).ConfigureAwait(false);
    }

    /// <summary>Awaits an attempt and ends its delivery; with a timeout, abandons a handler that ignores its cancelled token after the grace period.</summary>
    private async ValueTask<AttemptFailure?> ObserveAsync(Settlement settlement, ValueTask pending, (CancellationTokenSource Source, TimeSpan Timeout)? timeout)
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
                var grace = _env.Options.HandlerTimeoutGracePeriod;
                try
                {
                    await task.WaitAsync(timeout.Value.Timeout + grace, _env.Time).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                    // The handler ignored its cancelled token: abandon it (it keeps running unobserved) and free the worker.
                    _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    return settlement.Fail(new TimeoutException($"The handler of subscription '{Name}' did not finish within its timeout of {timeout.Value.Timeout} and ignored cancellation for the grace period of {grace}; it was abandoned."));
                }
            }
        }
        catch (OperationCanceledException e) when (timeout is { } t && t.Source.IsCancellationRequested && !_env.Lifecycle.HandlerCancellation.IsCancellationRequested)
        {
            return settlement.Fail(new TimeoutException($"The handler of subscription '{Name}' did not finish within its timeout of {t.Timeout}.", e));
        }
        catch (Exception e)
        {
            return settlement.Fail(e);
        }

        return settlement.Complete();
    }

    /// <summary>
    /// Calls the handler for one attempt, inside the delivery's logging scope when there is one. The scope ends when the handler
    /// returns to the worker; the rest of an asynchronous handler keeps it, as its continuation keeps the context it captured.
    /// </summary>
    private ValueTask Invoke<TUnit>(in TUnit unit, int attempt, Settlement settlement, int version, CancellationToken cancellationToken)
        where TUnit : struct, IDeliveryUnit =>
        _logScopes
            ? InvokeInScope(unit, attempt, settlement, version, cancellationToken)
            : unit.Invoke(_invoker, Name, attempt, settlement, version, cancellationToken);

    // Apart, so that the scope's try/finally stays off the path without a scope, which the runtime inlines.
    private ValueTask InvokeInScope<TUnit>(in TUnit unit, int attempt, Settlement settlement, int version, CancellationToken cancellationToken)
        where TUnit : struct, IDeliveryUnit
    {
        using var scope = _env.Logger.BeginScope(new DeliveryLogScope(unit.ContextAt(0, Name, attempt)));
        return unit.Invoke(_invoker, Name, attempt, settlement, version, cancellationToken);
    }

    private void Count(Counter<long> counter, long value)
    {
        if (counter.Enabled)
        {
            counter.Add(value, EventBusMetrics.System, TopicTag, ConsumerTag);
        }
    }
}
