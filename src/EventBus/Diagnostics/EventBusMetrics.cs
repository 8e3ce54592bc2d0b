using System.Diagnostics.Metrics;

namespace EventBus;

/// <summary>
/// The bus's instruments. One set per bus: from the container's <see cref="IMeterFactory"/> when it has one (so that tests and
/// several hosts in one process do not mix their figures), otherwise on a <see cref="Meter"/> the bus owns.
/// </summary>
internal sealed class EventBusMetrics : IDisposable
{
    /// <summary>
    /// Bucket boundaries for the duration histograms, in seconds. OpenTelemetry's default boundaries (0, 5, 10, 25 ... 10,000)
    /// suit milliseconds: read as seconds, every in-process duration, often microseconds, would land in the one bucket up to 5.
    /// These run from 10 µs to 30 s.
    /// </summary>
    private static readonly InstrumentAdvice<double> s_durationAdvice = new()
    {
        HistogramBucketBoundaries = [0.00001, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    };

    private readonly Meter _meter;
    private readonly bool _ownsMeter;

    public EventBusMetrics(IMeterFactory? meterFactory, Func<IEnumerable<Subscription>> subscriptions, Func<IEnumerable<StreamLog>> streams)
    {
        var options = new MeterOptions(EventBusTelemetry.MeterName) { Version = typeof(EventBusMetrics).Assembly.GetName().Version?.ToString() };
        _ownsMeter = meterFactory is null;
        _meter = meterFactory?.Create(options) ?? new Meter(options);

        Published = _meter.CreateCounter<long>(EventBusTelemetry.PublishedMessages, "{message}", "Messages published (events, enqueued and sent commands).");
        Delivered = _meter.CreateCounter<long>(EventBusTelemetry.DeliveredMessages, "{message}", "Deliveries handed to handlers, redeliveries included.");
        Succeeded = _meter.CreateCounter<long>(EventBusTelemetry.SucceededMessages, "{message}", "Messages handled successfully.");
        Failed = _meter.CreateCounter<long>(EventBusTelemetry.FailedMessages, "{message}", "Messages that ended in failure.");
        Retried = _meter.CreateCounter<long>(EventBusTelemetry.RetriedMessages, "{message}", "Redeliveries after a failed attempt.");
        DeadLettered = _meter.CreateCounter<long>(EventBusTelemetry.DeadLetteredMessages, "{message}", "Messages dead-lettered.");
        Skipped = _meter.CreateCounter<long>(EventBusTelemetry.SkippedMessages, "{message}", "Stream events a consumer group skipped (trimmed by retention before it read them).");
        Dropped = _meter.CreateCounter<long>(EventBusTelemetry.DroppedMessages, "{message}", "Messages dropped by a full policy.");
        ProcessDuration = _meter.CreateHistogram(EventBusTelemetry.ProcessDuration, "s", "Duration of handler attempts.", tags: null, s_durationAdvice);
        QueueDuration = _meter.CreateHistogram(EventBusTelemetry.QueueDuration, "s", "Time from publish to the start of a delivery.", tags: null, s_durationAdvice);

        _meter.CreateObservableGauge(EventBusTelemetry.BufferDepth, () => Observe(subscriptions(), static s => s.Depth), "{message}", "Buffered messages per subscription.");
        _meter.CreateObservableGauge(EventBusTelemetry.InFlight, () => Observe(subscriptions(), static s => s.InFlight), "{message}", "Messages being handled per subscription.");
        _meter.CreateObservableGauge(EventBusTelemetry.DeadLetters, () => Observe(subscriptions(), static s => s.DeadLetters.Count), "{message}", "Dead letters kept per subscription.");
        _meter.CreateObservableGauge(EventBusTelemetry.ConsumerLag, () => ObserveGroups(streams()), "{message}", "Stream head minus the committed offset, per consumer group.");
        _meter.CreateObservableGauge(EventBusTelemetry.StreamRetained, () => streams().Select(s => new Measurement<long>(s.Head - s.Start, System, s.Topic.TopicTag)).ToList(), "{message}", "Events retained per stream.");
    }

    public Counter<long> Skipped { get; }

    public Counter<long> Published { get; }

    public Counter<long> Delivered { get; }

    public Counter<long> Succeeded { get; }

    public Counter<long> Failed { get; }

    public Counter<long> Retried { get; }

    public Counter<long> DeadLettered { get; }

    public Counter<long> Dropped { get; }

    public Histogram<double> ProcessDuration { get; }

    public Histogram<double> QueueDuration { get; }

    public static KeyValuePair<string, object?> System => new(EventBusTelemetry.SystemAttribute, EventBusTelemetry.SystemName);

    public void Dispose()
    {
        if (_ownsMeter)
        {
            _meter.Dispose();
        }
    }

    private static List<Measurement<long>> ObserveGroups(IEnumerable<StreamLog> streams) =>
        streams.SelectMany(s => s.Groups.Select(g => new Measurement<long>(s.Head - g.Committed, System, s.Topic.TopicTag, g.GroupTag))).ToList();

    private static IEnumerable<Measurement<int>> Observe(IEnumerable<Subscription> subscriptions, Func<Subscription, int> read) =>
        subscriptions.Select(s => new Measurement<int>(read(s), System, s.TopicTag, s.SubscriptionTag)).ToList();
}
