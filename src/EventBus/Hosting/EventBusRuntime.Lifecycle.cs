namespace EventBus;

/// <content>Starting, stopping (draining) and disposing the bus.</content>
internal sealed partial class EventBusRuntime
{
    private static readonly TimeSpan AbandonGracePeriod = TimeSpan.FromSeconds(2);

    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        if (Volatile.Read(ref _state) == Created)
        {
            // Consumer groups load their committed offsets and join their streams before anything runs.
            await _startGate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await PrepareRegisteredGroupsAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                _startGate.Release();
            }
        }

        lock (_topicsLock)
        {
            switch (_state)
            {
                case Running:
                    return;
                case Stopping or Stopped:
                    throw new InvalidOperationException("The event bus was stopped; a stopped bus cannot be restarted. Build a new service provider to start again.");
            }

            foreach (var topic in _topicsByType.Values)
            {
                foreach (var subscription in topic.Subscriptions)
                {
                    subscription.Start();
                }
            }

            StartConsumers();
            Volatile.Write(ref _state, Running);
            Log.BusStarted(_logger, _topicsByType.Count, _topicsByType.Values.Sum(t => t.Subscriptions.Length), _commands.Count);
        }
    }

    public Task<StopReport> StopAsync(CancellationToken cancellationToken = default) => Stop(drain: true, cancellationToken);

    private Task<StopReport> Stop(bool drain, CancellationToken cancellationToken)
    {
        lock (_topicsLock)
        {
            return _stopTask ??= StopCoreAsync(drain, cancellationToken);
        }
    }

    /// <summary>
    /// Disposal by the container. The container no longer creates scopes once its disposal has begun, so buffered messages cannot
    /// be handled: the bus finishes what is in flight and reports the rest as unfinished (stop first, e.g. with the host, to drain).
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await Stop(drain: false, CancellationToken.None).ConfigureAwait(false);
        Environment.Stop.Dispose();
        _startGate.Dispose();
        Metrics.Dispose();
    }

    /// <summary>
    /// Synchronous disposal (a container disposed with <c>Dispose</c> rather than <c>DisposeAsync</c>): stops the bus as
    /// <see cref="DisposeAsync"/> does, blocking for at most the stop timeout plus the abandon grace period.
    /// </summary>
    public void Dispose()
    {
        Stop(drain: false, CancellationToken.None).GetAwaiter().GetResult();
        Environment.Stop.Dispose();
        _startGate.Dispose();
        Metrics.Dispose();
    }

    private async Task<StopReport> StopCoreAsync(bool drain, CancellationToken cancellationToken)
    {
        await Task.Yield(); // leave the caller's lock before waiting
        var started = _time.GetTimestamp();
        var wasRunning = Interlocked.Exchange(ref _state, Stopping) == Running;
        Topic[] topics;
        lock (_topicsLock)
        {
            topics = [.. _topicsByType.Values];
        }

        await Environment.Stop.BeginAsync().ConfigureAwait(false);
        foreach (var topic in topics)
        {
            topic.Complete();
        }

        var subscriptions = topics.SelectMany(t => t.Subscriptions).ToArray();
        var consumers = Consumers();
        foreach (var subscription in subscriptions)
        {
            subscription.CancelScheduled();
        }

        if (!drain)
        {
            StopTaking(subscriptions, consumers);
        }

        var drained = wasRunning && drain;
        if (wasRunning)
        {
            var all = Task.WhenAll(subscriptions.Select(s => s.Completion).Concat(consumers.Select(c => c.Stopped)));
            try
            {
                await all.WaitAsync(Options.StopTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                drained = false;
                Log.StopTimedOut(_logger, Options.StopTimeout);
                StopTaking(subscriptions, consumers);

                await Environment.Stop.CancelHandlersAsync().ConfigureAwait(false);
                try
                {
                    // Handlers that honour cancellation end now; one that ignores it is abandoned after a short grace period.
                    await all.WaitAsync(AbandonGracePeriod, _time, CancellationToken.None).ConfigureAwait(false);
                }
                catch (TimeoutException)
                {
                }
            }
        }

        var unfinished = new List<UndeliveredMessage>();
        if (!drained)
        {
            foreach (var subscription in subscriptions)
            {
                subscription.CollectUnfinished(unfinished);
            }
        }

        unfinished.InsertRange(0, Environment.Failures.Unfinished());

        // A group's unread events stay in its stream: its lag, not a loss. Groups that never started leave the stream now.
        var lagging = new List<ConsumerGroupInfo>();
        foreach (var consumer in consumers)
        {
            if (!consumer.IsStarted)
            {
                await consumer.DisposeAsync().ConfigureAwait(false);
            }

            if (consumer.GetInfo() is { Lag: > 0 } info)
            {
                lagging.Add(info);
            }
        }

        drained = unfinished.Count == 0 && lagging.Count == 0;
        Volatile.Write(ref _state, Stopped);
        var report = new StopReport(drained, _time.GetElapsedTime(started), unfinished, lagging);
        Log.BusStopped(_logger, report.Elapsed, report.Drained, unfinished.Count, lagging.Count);
        return report;
    }

    private static void StopTaking(Subscription[] subscriptions, StreamConsumer[] consumers)
    {
        foreach (var subscription in subscriptions)
        {
            subscription.StopTaking();
        }

        foreach (var consumer in consumers)
        {
            consumer.StopTaking();
        }
    }
}
