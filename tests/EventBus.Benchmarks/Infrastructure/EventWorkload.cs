using System.Threading.Channels;

namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// The base of the event workloads (W1, W2, W3 and W1 against the peers). It owns what their rows share: the batch of
/// preallocated events, the raw-channel baseline (bounded channels and their reader loops), the bus, and the measured loop
/// itself — arm the delivery signals, publish the batch, await every delivery.
/// </summary>
/// <remarks>
/// A derived class declares its rows (<c>[Benchmark]</c> methods with its own constant <c>OperationsPerInvoke</c>, which call
/// <see cref="PublishBatchAsync{TPublisher}"/>) and wires each row to its own setup and cleanup with
/// <c>[GlobalSetup(Target = ...)]</c> and <c>[GlobalCleanup(Target = ...)]</c>, whose methods call the start and stop
/// helpers here. Each row runs in its own process, so each setup starts only its own contender and decides which signals
/// the batch waits for: the handlers' for the raw channels and the bus, the peer's for a peer.
/// </remarks>
public abstract class EventWorkload
{
    private readonly int _batchSize;
    private readonly CountingEventHandler[] _handlers;
    private readonly CountdownSignal[] _handlerSignals;
    private BenchEvent[] _events = [];
    private CountdownSignal[] _signals = [];
    private ValueTask[] _deliveries = [];
    private Channel<BenchEvent>[] _channels = [];
    private Task[] _readers = [];
    private BusFixture? _bus;

    /// <summary>Initializes a new instance of the <see cref="EventWorkload"/> class.</summary>
    /// <param name="batchSize">Events per invocation: the derived class's <c>N</c>, its <c>OperationsPerInvoke</c>.</param>
    /// <param name="handlers">
    /// The handlers of the raw channels and of the bus, one per channel (and per subscription); the bus resolves these very
    /// instances (singletons).
    /// </param>
    protected EventWorkload(int batchSize, params CountingEventHandler[] handlers)
    {
        _batchSize = batchSize;
        _handlers = handlers;
        _handlerSignals = Array.ConvertAll(handlers, handler => handler.Signal);
    }

    /// <summary>Gets the bus started by <see cref="StartBusAsync"/>.</summary>
    protected BusFixture Bus => _bus!;

    /// <summary>Gets the batch: the events created by the row's setup, published by every invocation.</summary>
    protected BenchEvent[] Events => _events;

    /// <summary>Gets the writer of one raw channel started by <see cref="StartRawChannels"/>.</summary>
    /// <param name="channel">The channel's index: the index of its handler.</param>
    /// <returns>The writer.</returns>
    protected ChannelWriter<BenchEvent> RawWriter(int channel) => _channels[channel].Writer;

    /// <summary>
    /// Setup of a raw-channel row: creates the batch and <paramref name="channelsPerHandler"/> channels per handler, each
    /// drained by <paramref name="readersPerChannel"/> reader loops calling that handler directly.
    /// </summary>
    /// <param name="readersPerChannel">Reader loops per channel: 1 (a single-reader channel) or more (competing readers).</param>
    /// <param name="channelsPerHandler">
    /// Channels per handler: 1, or more for a row that routes each event to one of several channels read by the same handler
    /// (the key-ordered baseline). The channels of handler <c>h</c> are <see cref="RawWriter"/> <c>h * channelsPerHandler</c> onwards.
    /// </param>
    /// <param name="capacity">The capacity of each channel; not used when <paramref name="bounded"/> is <see langword="false"/>.</param>
    /// <param name="bounded">Whether the channels are bounded (the bus's shape) or unbounded.</param>
    protected void StartRawChannels(int readersPerChannel = 1, int channelsPerHandler = 1, int capacity = RawChannel.Capacity, bool bounded = true)
    {
        CreateBatch();
        _channels = new Channel<BenchEvent>[_handlers.Length * channelsPerHandler];
        _readers = new Task[_channels.Length * readersPerChannel];
        for (var i = 0; i < _channels.Length; i++)
        {
            _channels[i] = bounded
                ? RawChannel.CreateBounded<BenchEvent>(singleReader: readersPerChannel == 1, capacity)
                : RawChannel.CreateUnbounded<BenchEvent>(singleReader: readersPerChannel == 1);
            for (var r = 0; r < readersPerChannel; r++)
            {
                _readers[(i * readersPerChannel) + r] = RawChannel.StartReader(_channels[i].Reader, _handlers[i / channelsPerHandler]);
            }
        }

        ExpectDeliveriesTo(_handlerSignals);
    }

    /// <summary>Cleanup of a raw-channel row: completes the channels and waits for their reader loops to end.</summary>
    /// <returns>A task that completes when every reader loop has ended.</returns>
    protected async Task StopRawChannelsAsync()
    {
        foreach (var channel in _channels)
        {
            channel.Writer.Complete();
        }

        await Task.WhenAll(_readers);
    }

    /// <summary>Setup of a bus row: creates the batch, then builds and starts the bus with the handler instances registered.</summary>
    /// <param name="configure">Registers the handlers with the bus.</param>
    /// <returns>A task that completes when the bus has started.</returns>
    protected async Task StartBusAsync(Action<EventBusBuilder> configure)
    {
        CreateBatch();
        _bus = await BusFixture.StartAsync(_handlers, configure);
        ExpectDeliveriesTo(_handlerSignals);
    }

    /// <summary>Cleanup of a bus row: stops (drains) and disposes the bus.</summary>
    /// <returns>A task that completes when the bus is disposed.</returns>
    protected async Task StopBusAsync() => await _bus!.DisposeAsync();

    /// <summary>Setup of a peer row: creates the batch and starts the peer, whose handler counts down the peer's own signal.</summary>
    /// <typeparam name="TPeer">The peer.</typeparam>
    /// <param name="start">Builds and starts the peer.</param>
    /// <returns>The started peer; the row's cleanup disposes it.</returns>
    protected async Task<TPeer> StartPeerAsync<TPeer>(Func<Task<TPeer>> start)
        where TPeer : HostedPeer
    {
        CreateBatch();
        var peer = await start();
        ExpectDeliveriesTo(peer.Signals.Events);
        return peer;
    }

    /// <summary>
    /// The measured loop of every row that publishes one event at a time: arms the signals, publishes the batch in order
    /// with <paramref name="publisher"/>, awaiting each publish, and returns when every delivery has happened.
    /// </summary>
    /// <typeparam name="TPublisher">The row's publisher; a struct, so that this loop is compiled for it alone.</typeparam>
    /// <param name="publisher">Publishes one event to the row's contender.</param>
    /// <returns>A task that completes when all the batch's deliveries have happened.</returns>
    protected async Task PublishBatchAsync<TPublisher>(TPublisher publisher)
        where TPublisher : struct, IEventPublisher
    {
        ArmDeliveries();
        foreach (var @event in _events)
        {
            await publisher.PublishAsync(@event);
        }

        await WhenDeliveredAsync();
    }

    /// <summary>Starts a batch: arms every signal the row's setup chose for <c>N</c> deliveries.</summary>
    /// <remarks>For a row with a loop of its own; <see cref="PublishBatchAsync{TPublisher}"/> calls it itself.</remarks>
    protected void ArmDeliveries()
    {
        for (var i = 0; i < _signals.Length; i++)
        {
            _deliveries[i] = _signals[i].Arm(_batchSize);
        }
    }

    /// <summary>Awaits every delivery of the batch armed by <see cref="ArmDeliveries"/>, failing the run if one is lost.</summary>
    /// <returns>A task that completes when every signal has counted down to zero.</returns>
    /// <remarks>
    /// Each handler has its own signal (its own counter, touched by one reader), so the count-down adds no contention when a
    /// batch has several.
    /// </remarks>
    protected async ValueTask WhenDeliveredAsync()
    {
        for (var i = 0; i < _signals.Length; i++)
        {
            await Batch.WhenDone(_deliveries[i], _signals[i]);
        }
    }

    private void CreateBatch() => _events = BenchMessages.Events(_batchSize);

    private void ExpectDeliveriesTo(params CountdownSignal[] signals)
    {
        _signals = signals;
        _deliveries = new ValueTask[signals.Length];
    }
}
