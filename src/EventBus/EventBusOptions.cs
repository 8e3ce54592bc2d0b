namespace EventBus;

/// <summary>
/// Bus-wide options, built by the options system (<see cref="EventBusBuilder.Configure(Action{EventBusOptions})"/>, or
/// <c>services.Configure&lt;EventBusOptions&gt;(...)</c> with a delegate or a configuration section) and validated with the
/// topics, subscriptions, streams and groups of the builder at host start, or when the bus is first resolved without a host;
/// every invalid value is reported in one <see cref="Microsoft.Extensions.Options.OptionsValidationException"/>.
/// </summary>
public sealed class EventBusOptions
{
    /// <summary>The largest capacity a subscription buffer may have.</summary>
    public const int MaxCapacity = 1 << 20;

    /// <summary>The largest number of workers a subscription may have.</summary>
    public const int MaxWorkers = 1024;

    /// <summary>Gets or sets the buffer capacity of subscriptions that do not set their own.</summary>
    /// <value>The default value is 1024. Range: 1 to <see cref="MaxCapacity"/>.</value>
    public int DefaultCapacity { get; set; } = 1024;

    /// <summary>Gets or sets the full policy of subscriptions that do not set their own.</summary>
    /// <value>The default value is <see cref="FullPolicy.Wait"/>.</value>
    public FullPolicy DefaultFullPolicy { get; set; } = FullPolicy.Wait;

    /// <summary>Gets or sets the number of workers of <see cref="DeliveryMode.Queue"/> and <see cref="DeliveryMode.KeyOrdered"/> subscriptions that do not set their own.</summary>
    /// <value>The default value is <see cref="Environment.ProcessorCount"/>. Range: 1 to <see cref="MaxWorkers"/>.</value>
    public int QueueWorkers { get; set; } = Environment.ProcessorCount;

    /// <summary>Gets or sets how long <see cref="IEventBusControl.StopAsync(CancellationToken)"/> lets handlers drain buffered and in-flight messages before it cancels them.</summary>
    /// <value>The default value is 30 seconds. Range: zero to one day.</value>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the redelivery policy of subscriptions that do not set their own.</summary>
    /// <value>The default value is a policy with <see cref="RedeliveryOptions.MaxDeliveries"/> = 1: a failure is dead-lettered at once.</value>
    public RedeliveryOptions DefaultRedelivery { get; set; } = new();

    /// <summary>Gets or sets the handler timeout of subscriptions that do not set their own.</summary>
    /// <value>The default value is <see langword="null"/> (no timeout). Range: 1 ms to one day.</value>
    public TimeSpan? DefaultHandlerTimeout { get; set; }

    /// <summary>Gets or sets how long a worker still waits for a handler that ignored its timed-out cancellation token before abandoning it.</summary>
    /// <value>The default value is 5 seconds. Range: zero to one hour.</value>
    public TimeSpan HandlerTimeoutGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets how many dead letters each subscription keeps by default.</summary>
    /// <value>The default value is 10,000. Range: 0 to 1,048,576.</value>
    public int DefaultDeadLetterCapacity { get; set; } = 10_000;

    /// <summary>
    /// Gets or sets a value indicating whether publishing an event type that no handler subscribes to (and that was not
    /// declared with <see cref="EventBusBuilder.AddTopic{TMessage}(Action{SubscriptionOptions}?)"/>) throws an <see cref="UnknownMessageTypeException"/>.
    /// </summary>
    /// <value>The default value is <see langword="true"/>: an event nobody can receive is almost always a wiring mistake.</value>
    public bool RequireKnownEventTypes { get; set; } = true;

    /// <summary>
    /// Gets or sets a value indicating whether an inline send (<see cref="ICommandBus.SendAsync{TResult}(ICommand{TResult}, PublishOptions?, CancellationToken)"/>
    /// and its overloads) stamps the handler's <see cref="MessageContext"/> with a new <see cref="MessageContext.MessageId"/>, the
    /// <see cref="MessageContext.Timestamp"/> and the caller's <see cref="MessageContext.TraceContext"/>.
    /// </summary>
    /// <remarks>
    /// Stamping reads the clock, which is about half of what an inline send costs (see docs/benchmarks.md, W4 inline).
    /// Set <see langword="false"/> for faster sends whose handlers do not read
    /// those three values: the handler of an inline send then sees the <see cref="PublishOptions.MessageId"/> given, or
    /// <see cref="MessageId.Empty"/>; a <see cref="MessageContext.Timestamp"/> of <see cref="DateTimeOffset.MinValue"/>; and a default
    /// <see cref="MessageContext.TraceContext"/> (<see cref="System.Diagnostics.Activity.Current"/> still holds the caller's
    /// activity, since the handler runs on the caller's flow). The other values of the context are unchanged. Events, queued
    /// commands (<c>EnqueueAsync</c>, <c>SendQueuedAsync</c>) and inline sends traced by an <c>ActivityListener</c> on the bus's
    /// source are always stamped.
    /// </remarks>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool StampInlineSends { get; set; } = true;

    /// <summary>
    /// Gets or sets a value indicating whether each delivery runs its handler inside a logging scope that names the message
    /// (<c>MessageId</c>, <c>MessageType</c>, <c>CorrelationId</c>, <c>Subscription</c>, <c>DeliveryCount</c>), so that the
    /// handler's own log entries can be tied to the message without tracing.
    /// </summary>
    /// <remarks>
    /// The scope is begun on the bus's logger (category <c>EventBus</c>); the providers that include scopes (the console's
    /// <c>IncludeScopes</c>, OpenTelemetry's <c>IncludeScopes</c>, Serilog) show it on every entry the handler writes, through any
    /// logger of the same factory. With no logger factory in the container, no scope is made. A scope costs a few small allocations
    /// per delivery; inline sends run on the caller's flow and its scopes, and get none. A batch handler's scope names its batch's
    /// first message.
    /// </remarks>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool LogScopes { get; set; } = true;

    /// <summary>
    /// Gets or sets a callback for every message that was not handled successfully: a handler failure, a drop by a
    /// drop policy, a rejected enqueued command, or a message that could not be finished when the bus stopped.
    /// The callback runs on the bus's thread: keep it short and do not block. An exception it throws is logged and ignored.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (each case is still logged and counted).</value>
    public Action<UndeliveredMessage>? OnUndelivered { get; set; }

    internal IEnumerable<string> Validate()
    {
        if (DefaultCapacity is < 1 or > MaxCapacity)
        {
            yield return $"EventBusOptions.DefaultCapacity must be between 1 and {MaxCapacity}; it is {DefaultCapacity}.";
        }

        if (!Enum.IsDefined(DefaultFullPolicy))
        {
            yield return $"EventBusOptions.DefaultFullPolicy must be one of {string.Join(", ", Enum.GetNames<FullPolicy>())}; it is {(int)DefaultFullPolicy}.";
        }

        if (QueueWorkers is < 1 or > MaxWorkers)
        {
            yield return $"EventBusOptions.QueueWorkers must be between 1 and {MaxWorkers}; it is {QueueWorkers}.";
        }

        if (DefaultRedelivery is null)
        {
            yield return "EventBusOptions.DefaultRedelivery must not be null.";
        }
        else
        {
            foreach (var failure in DefaultRedelivery.Validate("EventBusOptions.DefaultRedelivery"))
            {
                yield return failure;
            }
        }

        if (DefaultHandlerTimeout is { } timeout && (timeout < TimeSpan.FromMilliseconds(1) || timeout > TimeSpan.FromDays(1)))
        {
            yield return $"EventBusOptions.DefaultHandlerTimeout must be between 00:00:00.001 and 1.00:00:00; it is {timeout}.";
        }

        if (HandlerTimeoutGracePeriod < TimeSpan.Zero || HandlerTimeoutGracePeriod > TimeSpan.FromHours(1))
        {
            yield return $"EventBusOptions.HandlerTimeoutGracePeriod must be between 00:00:00 and 01:00:00; it is {HandlerTimeoutGracePeriod}.";
        }

        if (DefaultDeadLetterCapacity is < 0 or > MaxCapacity)
        {
            yield return $"EventBusOptions.DefaultDeadLetterCapacity must be between 0 and {MaxCapacity}; it is {DefaultDeadLetterCapacity}.";
        }

        if (StopTimeout < TimeSpan.Zero || StopTimeout > TimeSpan.FromDays(1))
        {
            yield return $"EventBusOptions.StopTimeout must be between 00:00:00 and 1.00:00:00; it is {StopTimeout}.";
        }
    }
}
