namespace EventBus;

/// <summary>
/// Sends commands (<see cref="ICommandBus"/>): inline to their route, which runs the handler on the caller's flow, or onto their
/// queue (a topic with one queue subscription), whose worker handles them and completes the reply a queued sender awaits.
/// </summary>
internal sealed class CommandBus(TypeMap<CommandRoute> routes, TopicTable topics, EventPublisher publisher, BusLifecycle lifecycle, EventBusMetrics metrics, TimeProvider time, bool stampInlineSends) : ICommandBus
{
    private readonly TypeMap<CommandRoute> _commands = routes;

    /// <summary>Gets the route of every command type.</summary>
    public TypeMap<CommandRoute> Routes => _commands;

    /// <summary>Gets the clock that stamps inline sends.</summary>
    public TimeProvider TimeProvider => time;

    public ValueTask<CommandResult<TResult>> SendAsync<TResult>(ICommand<TResult> command, PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        SendCore<TResult>(command, options, cancellationToken);

    public ValueTask<CommandResult> SendAsync(ICommand command, PublishOptions? options = null, CancellationToken cancellationToken = default) =>
        VoidOutcome.ToResult(SendCore<VoidResult>(command, options, cancellationToken));

    public ValueTask EnqueueAsync<TCommand>(TCommand command, PublishOptions? options = null, CancellationToken cancellationToken = default)
        where TCommand : class =>
        EnqueueCore(command, options, null, cancellationToken);

    /// <summary>Puts a command on its queue and awaits its outcome (for the typed senders).</summary>
    public ValueTask<CommandResult<TResult>> SendQueuedAsync<TResult>(ICommand<TResult> command, PublishOptions? options, CancellationToken cancellationToken) =>
        SendQueuedCore<TResult, CommandResult<TResult>>(command, options, static reply => reply.Task, cancellationToken);

    /// <summary>Puts a command that returns no value on its queue and awaits its outcome (for the typed senders).</summary>
    public ValueTask<CommandResult> SendQueuedAsync(ICommand command, PublishOptions? options, CancellationToken cancellationToken) =>
        SendQueuedCore<VoidResult, CommandResult>(command, options, static reply => reply.VoidTask, cancellationToken);

    /// <summary>Enqueues a command with a reply in its envelope, then awaits the reply as <typeparamref name="TOutcome"/> (<paramref name="outcome"/>).</summary>
    private ValueTask<TOutcome> SendQueuedCore<TResult, TOutcome>(object command, PublishOptions? options, Func<ReplySink<TResult>, ValueTask<TOutcome>> outcome, CancellationToken cancellationToken)
    {
        if (command is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(command));
        }

        // The worker completes only a reply of its handler's result type: any other would never be completed.
        if (_commands.TryGetValueOf(command, out var route))
        {
            route.As<TResult>();
        }

        var reply = new ReplySink<TResult>(options);
        var enqueued = EnqueueCore(command, options, reply, cancellationToken);
        if (!enqueued.IsCompletedSuccessfully)
        {
            return AwaitEnqueued(enqueued, reply, outcome, cancellationToken);
        }

        enqueued.GetAwaiter().GetResult();
        reply.CancelWith(cancellationToken);
        return outcome(reply);

        static async ValueTask<TOutcome> AwaitEnqueued(ValueTask enqueued, ReplySink<TResult> reply, Func<ReplySink<TResult>, ValueTask<TOutcome>> outcome, CancellationToken cancellationToken)
        {
            await enqueued.ConfigureAwait(false);
            reply.CancelWith(cancellationToken);
            return await outcome(reply).ConfigureAwait(false);
        }
    }

    /// <summary>Puts a command on its queue; with <paramref name="reply"/> in its envelope, for a sender that awaits the outcome.</summary>
    private ValueTask EnqueueCore(object command, PublishOptions? options, ReplySink? reply, CancellationToken cancellationToken)
    {
        if (command is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(command));
        }

        var topic = topics.Of(command);
        if (!topic.IsCommand)
        {
            ThrowHelper.ThrowEventEnqueued(topic.MessageType);
        }

        return EventBusTelemetry.Source.HasListeners()
            ? publisher.PublishTracedAsync(topic, command, options, reply is null ? "publish" : "send", cancellationToken, reply)
            : topic.PublishAsync(command, publisher.CreateContext(topic.Name, options, reply), cancellationToken);
    }

    private ValueTask<CommandResult<TResult>> SendCore<TResult>(object command, PublishOptions? options, CancellationToken cancellationToken)
    {
        if (command is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(command));
        }

        if (!_commands.TryGetValueOf(command, out var found))
        {
            ThrowHelper.ThrowUnknownCommand(command.GetType());
        }

        return found.As<TResult>().SendInlineAsync(this, command, options, cancellationToken);
    }

    /// <summary>Gets a value indicating whether an inline send stamps its envelope (<see cref="EventBusOptions.StampInlineSends"/>).</summary>
    internal bool StampInlineSends => stampInlineSends;

    /// <summary>What every inline send does before it runs the handler: refuses after a stop, counts the send.</summary>
    /// <returns>Whether the send is traced (<see cref="SendTracedAsync"/>): an activity listener is attached.</returns>
    internal bool BeginSend(string topic)
    {
        if (lifecycle.IsStopping)
        {
            ThrowHelper.ThrowStoppedForCommand();
        }

        if (metrics.Published.Enabled)
        {
            metrics.Published.Add(1, EventBusMetrics.System, new(EventBusTelemetry.DestinationAttribute, topic));
        }

        return EventBusTelemetry.Source.HasListeners();
    }

    /// <summary>The route of <typeparamref name="TCommand"/>, for a typed sender that binds to it once.</summary>
    /// <exception cref="UnknownMessageTypeException">No handler is registered for <typeparamref name="TCommand"/>.</exception>
    /// <exception cref="ArgumentException">The handler returns a type other than <typeparamref name="TResult"/>.</exception>
    internal CommandRoute<TCommand, TResult> RouteOf<TCommand, TResult>()
    {
        if (!_commands.TryGetValue(typeof(TCommand), out var found))
        {
            ThrowHelper.ThrowUnknownCommand(typeof(TCommand));
        }

        // Every route is built for its exact command type (EventBusBuilder), so after the result check this cast holds.
        return (CommandRoute<TCommand, TResult>)found.As<TResult>();
    }

    /// <summary>Sends inside a <c>send</c> span; the handler runs within it, so what it publishes joins the trace.</summary>
    internal async ValueTask<CommandResult<TResult>> SendTracedAsync<TResult>(CommandRoute<TResult> route, object command, PublishOptions? options, CancellationToken cancellationToken)
    {
        using var activity = Tracing.StartProducerActivity("send", route.Topic);
        var context = publisher.CreateContext(route.Topic, options);
        Tracing.TagMessage(activity, context);
        try
        {
            var result = await route.SendAsync(command, context, cancellationToken).ConfigureAwait(false);
            if (!result.IsAccepted)
            {
                activity?.SetTag(EventBusTelemetry.RejectionAttribute, result.Rejection.Reason);
            }

            return result;
        }
        catch (Exception e)
        {
            Tracing.SetError(activity, e);
            throw;
        }
    }
}
