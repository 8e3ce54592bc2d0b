using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus;

/// <summary>
/// The streams of one bus (<see cref="IEventStreams"/>): replay readers, consumer groups (registered with the builder, or started at
/// run time), seeks and lag. It owns the groups; the logs belong to their topics.
/// </summary>
internal sealed class EventStreams(TopicTable topics, Func<Type, bool> isStream, DeliveryEnvironment environment, IServiceProvider services) : IEventStreams, IStreamGroupOwner
{
    private readonly List<StreamConsumer> _consumers = [];
    private IStreamOffsetStore? _offsetStore;

    /// <summary>Gets the offset store, resolved on first use (a store that depends on the bus can be built once the bus is).</summary>
    public IStreamOffsetStore OffsetStore => _offsetStore ??= services.GetService<IStreamOffsetStore>() ?? new InMemoryStreamOffsetStore();

    private EventBusOptions Options => environment.Options;

    public IAsyncEnumerable<StreamEvent<TEvent>> ReadAsync<TEvent>(StreamPosition from, bool follow = false, CancellationToken cancellationToken = default) =>
        ReadCoreAsync<TEvent>(GetStream(typeof(TEvent)), from, follow, cancellationToken);

    public ValueTask<IStreamSubscription> SubscribeAsync<TEvent>(string group, Func<TEvent, MessageContext, CancellationToken, ValueTask> handler, Action<ConsumerGroupOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return SubscribeCoreAsync(typeof(TEvent), group, new DelegateHandlerInvoker<TEvent>(handler), configure, cancellationToken);
    }

    public IStreamSubscription? GetSubscription<TEvent>(string group)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        var log = GetStream(typeof(TEvent));
        lock (_consumers)
        {
            return _consumers.Find(c => c.Name == group && c.Topic == log.Topic.Name);
        }
    }

    public async ValueTask<long> SeekAsync<TEvent>(string group, StreamPosition position, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        var log = GetStream(typeof(TEvent));
        if (GetSubscription<TEvent>(group) is { } running)
        {
            return await running.SeekAsync(position, cancellationToken).ConfigureAwait(false);
        }

        long offset;
        lock (log.Lock)
        {
            offset = log.Resolve(position);
            log.SetStoppedGroup(group, offset, new StreamLog.StoppedGroup(offset, Options.DefaultCapacity, DeliveryMode.Broadcast, Workers: 1, new ConsumerGroupOptions().EffectiveFullPolicy(Options)));
        }

        await OffsetStore.SaveAsync(log.Topic.Name, group, offset, cancellationToken).ConfigureAwait(false);
        return offset;
    }

    public StreamInfo GetStreamInfo<TEvent>() => GetStream(typeof(TEvent)).Describe();

    public StreamConsumer[] Consumers()
    {
        lock (_consumers)
        {
            return [.. _consumers];
        }
    }

    /// <summary>Gets the logs of the stream topics created so far.</summary>
    public IEnumerable<StreamLog> Logs() => topics.All.Select(t => t.Log).OfType<StreamLog>();

    public void OnGroupStopped(StreamConsumer consumer)
    {
        lock (_consumers)
        {
            _consumers.Remove(consumer);
        }
    }

    /// <summary>
    /// Creates a group registered with the builder and joins it to its stream, when the bus is built: events published before the
    /// bus starts are kept for it (within its backlog) and delivered once it does.
    /// </summary>
    public void Reserve(Type eventType, string group, HandlerInvoker invoker, ConsumerGroupOptions options)
    {
        var consumer = CreateConsumer(GetStream(eventType), group, invoker, options);
        consumer.Reserve();
        lock (_consumers)
        {
            _consumers.Add(consumer);
        }
    }

    /// <summary>When the bus starts: the registered groups load their committed offsets and find where they start.</summary>
    public async Task PrepareRegisteredGroupsAsync(CancellationToken cancellationToken)
    {
        foreach (var consumer in Consumers().Where(c => c.IsReserved))
        {
            try
            {
                await consumer.PrepareAsync(OffsetStore, cancellationToken).ConfigureAwait(false);
            }
            catch (StreamOffsetOutOfRangeException e)
            {
                // One group that cannot start must not keep the others (or the host) from starting: it is logged, leaves the
                // stream and does not run.
                Log.ConsumerGroupFaulted(environment.Logger, consumer.Name, consumer.Topic, -1, 0, e);
                await consumer.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Starts the workers of every prepared group that is not running yet (under the lifecycle's lock, when the bus starts).</summary>
    public void StartConsumers()
    {
        foreach (var consumer in Consumers())
        {
            if (!consumer.IsStarted)
            {
                consumer.Start();
            }
        }
    }

    private async ValueTask<IStreamSubscription> SubscribeCoreAsync(Type eventType, string group, HandlerInvoker invoker, Action<ConsumerGroupOptions>? configure, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        var log = GetStream(eventType);
        var options = new ConsumerGroupOptions();
        configure?.Invoke(options);
        var consumer = CreateConsumer(log, group, invoker, options);
        await consumer.PrepareAsync(OffsetStore, cancellationToken).ConfigureAwait(false);
        lock (environment.Lifecycle.SyncRoot)
        {
            lock (_consumers)
            {
                _consumers.Add(consumer);
            }

            if (environment.Lifecycle.IsRunning)
            {
                consumer.Start();
            }
        }

        return consumer;
    }

    private StreamConsumer CreateConsumer(StreamLog log, string group, HandlerInvoker invoker, ConsumerGroupOptions options)
    {
        var capacity = options.Capacity ?? Options.DefaultCapacity;
        var failures = options.Validate($"consumer group '{group}' on stream '{log.Topic.Name}'", capacity).ToList();
        if (failures.Count > 0)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(group, typeof(ConsumerGroupOptions), failures);
        }

        var settings = new ConsumerGroupSettings(
            options.StartPosition,
            options.ResetPolicy,
            options.AckMode ?? AckMode.AfterHandling,
            options.CommitEvery,
            options.CommitInterval,
            options.Workers,
            capacity,
            options.EffectiveFullPolicy(Options),
            (options.Redelivery ?? Options.DefaultRedelivery).Clone(),
            options.HandlerTimeout ?? Options.DefaultHandlerTimeout,
            options.StopOnFailure,
            options.DeadLetterCapacity ?? Options.DefaultDeadLetterCapacity);
        return new StreamConsumer(this, environment, log, group, invoker, settings);
    }

    private StreamLog GetStream(Type eventType)
    {
        if (!topics.TryGet(eventType, out var topic))
        {
            topic = isStream(eventType) ? topics.GetOrCreate(eventType, isCommand: false) : null;
        }

        return topic?.Log ?? throw new InvalidOperationException(
            $"'{eventType.FullName}' is not a stream. Declare it with AddStream<{eventType.Name}>() (or add a consumer group on it) in AddEventBus, so that its events are kept in a log.");
    }

    private async IAsyncEnumerable<StreamEvent<TEvent>> ReadCoreAsync<TEvent>(StreamLog log, StreamPosition from, bool follow, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var signal = follow ? new AsyncSignal() : null;
        long position, end;
        StreamCursor cursor;
        lock (log.Lock)
        {
            position = log.Resolve(from);
            end = log.Head;
            cursor = log.OpenCursor(position, signal);
        }

        using var wake = signal is null ? default : cancellationToken.UnsafeRegister(static s => ((AsyncSignal)s!).Wake(), signal);
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                if (position >= (follow ? log.Head : end))
                {
                    if (signal is null || log.IsCompleted)
                    {
                        yield break;
                    }

                    signal.BeginWait();
                    await signal.WaitUnless(position < log.Head || log.IsCompleted || cancellationToken.IsCancellationRequested).ConfigureAwait(false);
                    continue;
                }

                if (!log.TryRead(cursor, position, out var entry))
                {
                    position = log.Start; // trimmed while this reader was behind: the gap shows in the offsets
                    continue;
                }

                position++;
                yield return new StreamEvent<TEvent>((TEvent)entry.Message, entry.ToContext(log.Topic.Name));
            }
        }
        finally
        {
            log.CloseCursor(cursor);
        }
    }
}

/// <summary>Invokes a delegate handler given to <see cref="IEventStreams.SubscribeAsync{TEvent}"/>.</summary>
internal sealed class DelegateHandlerInvoker<TEvent>(Func<TEvent, MessageContext, CancellationToken, ValueTask> handler) : HandlerInvoker
{
    public override ValueTask InvokeAsync(object message, MessageContext context, CancellationToken cancellationToken) =>
        handler((TEvent)message, context, cancellationToken);
}
