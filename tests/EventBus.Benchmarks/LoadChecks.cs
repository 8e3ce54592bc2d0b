using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Benchmarks;

/// <summary>
/// The measurements of issue 6 that are not BenchmarkDotNet rows: memory over a long broadcast run, publish-to-handler latency
/// under load, and W3 burst by burst. Run with <c>-- scale</c>, <c>-- latency</c> or <c>-- bursts</c> (see docs/benchmarks.md).
/// </summary>
public static class LoadChecks
{
    /// <summary>
    /// Publishes 10 million events through broadcast-4 with default settings (four subscriptions, or with <paramref name="stream"/>
    /// a stream retaining the newest million read by four consumer groups) and prints the heap and working set every million.
    /// </summary>
    /// <param name="stream">Whether to run the stream variant.</param>
    /// <returns>A task that completes when every event was delivered to all four handlers.</returns>
    public static async Task ScaleAsync(bool stream)
    {
        const long Total = 10_000_000;
        var counter = new DeliveryCount();
        var services = new ServiceCollection().AddSingleton(counter);
        services.AddEventBus(b =>
        {
            if (stream)
            {
                b.AddStream<ScaleEvent>(o => o.MaxCount = 1_000_000)
                    .AddStreamGroup<ScaleEvent, Counting<First>>("first", lifetime: ServiceLifetime.Singleton)
                    .AddStreamGroup<ScaleEvent, Counting<Second>>("second", lifetime: ServiceLifetime.Singleton)
                    .AddStreamGroup<ScaleEvent, Counting<Third>>("third", lifetime: ServiceLifetime.Singleton)
                    .AddStreamGroup<ScaleEvent, Counting<Fourth>>("fourth", lifetime: ServiceLifetime.Singleton);
                return;
            }

            b.AddEventHandler<ScaleEvent, Counting<First>>(ServiceLifetime.Singleton)
                .AddEventHandler<ScaleEvent, Counting<Second>>(ServiceLifetime.Singleton)
                .AddEventHandler<ScaleEvent, Counting<Third>>(ServiceLifetime.Singleton)
                .AddEventHandler<ScaleEvent, Counting<Fourth>>(ServiceLifetime.Singleton);
        });
        await using var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<IEventBusControl>().StartAsync();
        var bus = provider.GetRequiredService<IEventBus>();
        var process = Process.GetCurrentProcess();
        var @event = new ScaleEvent(1);
        long peakHeap = 0;
        var watch = Stopwatch.StartNew();
        Console.WriteLine("published   heap (MiB)   working set (MiB)   gen0/gen1/gen2 collections");
        for (long i = 1; i <= Total; i++)
        {
            await bus.PublishAsync(@event);
            if (i % 1_000_000 == 0)
            {
                process.Refresh();
                var heap = GC.GetTotalMemory(forceFullCollection: false);
                peakHeap = Math.Max(peakHeap, heap);
                Console.WriteLine($"{i / 1_000_000,6}M   {heap / 1048576.0,12:F1}   {process.WorkingSet64 / 1048576.0,17:F1}   {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}");
            }
        }

        await counter.WaitForAsync(Total * 4);
        process.Refresh();
        if (stream)
        {
            Console.WriteLine($"stream retains {provider.GetRequiredService<IEventStreams>().GetStreamInfo<ScaleEvent>().RetainedCount:N0} events");
        }

        Console.WriteLine($"{Total:N0} events x 4 subscribers delivered in {watch.Elapsed.TotalSeconds:F1} s ({Total / watch.Elapsed.TotalSeconds / 1e6:F2} M events/s); peak heap {peakHeap / 1048576.0:F1} MiB, peak working set {process.PeakWorkingSet64 / 1048576.0:F1} MiB");
    }

    /// <summary>
    /// Measures the bus's and a raw channel's maximum one-handler throughput, then publishes at half of it and prints the
    /// publish-to-handler latency percentiles of one million events.
    /// </summary>
    /// <returns>A task that completes when both measurements are printed.</returns>
    public static async Task LatencyAsync()
    {
        var recorder = new LatencyRecorder();
        var services = new ServiceCollection().AddSingleton(recorder);
        services.AddEventBus(b => b.AddEventHandler<TimedEvent, Timing>(ServiceLifetime.Singleton));
        await using var provider = services.BuildServiceProvider();
        await provider.GetRequiredService<IEventBusControl>().StartAsync();
        var bus = provider.GetRequiredService<IEventBus>();
        await MeasureAsync("EventBus (1 handler)", recorder, e => bus.PublishAsync(e));

        var channel = Channel.CreateBounded<TimedEvent>(new BoundedChannelOptions(1024) { SingleReader = true, SingleWriter = true, AllowSynchronousContinuations = false });
        var handler = new Timing(recorder);
        var reader = Task.Run(async () =>
        {
            await foreach (var e in channel.Reader.ReadAllAsync())
            {
                await handler.HandleAsync(e, default, CancellationToken.None);
            }
        });
        await MeasureAsync("raw Channel<T> (1 reader)", recorder, e => channel.Writer.WriteAsync(e));
        channel.Writer.Complete();
        await reader;
    }

    /// <summary>
    /// W3's shape burst by burst: 100,000 events published to four competing readers and awaited, the raw channel and the bus
    /// taking turns in one process, so that a slow spell of the machine (a 2-core VM's scheduling of the hand-offs) shows in
    /// both. After ten warm-up bursts per side, prints each burst's time per event, then each side's fastest, median and
    /// slowest burst.
    /// </summary>
    /// <param name="bursts">Bursts per side.</param>
    /// <returns>A task that completes when the table is printed.</returns>
    public static async Task BurstsAsync(int bursts)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bursts);
        const int BurstSize = 100_000, Readers = 4;
        var events = BenchMessages.Events(BurstSize);

        var rawHandler = new QueueHandler();
        var channel = RawChannel.CreateBounded<BenchEvent>(singleReader: false);
        var readers = Enumerable.Range(0, Readers).Select(_ => RawChannel.StartReader(channel.Reader, rawHandler)).ToArray();

        var busHandler = new QueueHandler();
        await using var bus = await BusFixture.StartAsync(
            [busHandler],
            b => b.AddEventHandler<BenchEvent, QueueHandler>(ServiceLifetime.Singleton)
                .ConfigureSubscription<QueueHandler>(o =>
                {
                    o.Mode = DeliveryMode.Queue;
                    o.Workers = Readers;
                }));

        // The first bursts are warm-up, not counted: they run code the JIT has not optimized yet.
        const int WarmUp = 10;
        var raw = new double[bursts];
        var eventBus = new double[bursts];
        Console.WriteLine("burst   raw Channel<T>, 4 readers (ns/event)   EventBus queue, 4 workers (ns/event)");
        for (var i = -WarmUp; i < bursts; i++)
        {
            var rawTime = await BurstAsync(rawHandler.Signal, events, e => channel.Writer.WriteAsync(e));
            var busTime = await BurstAsync(busHandler.Signal, events, e => bus.Events.PublishAsync(e));
            if (i >= 0)
            {
                (raw[i], eventBus[i]) = (rawTime, busTime);
                Console.WriteLine($"{i + 1,5}   {rawTime,38:F1}   {busTime,36:F1}");
            }
        }

        channel.Writer.Complete();
        await Task.WhenAll(readers);
        Summarize("raw Channel<T>", raw);
        Summarize("EventBus", eventBus);

        static void Summarize(string name, double[] times)
        {
            var sorted = times.Order().ToArray();
            var median = sorted[sorted.Length / 2];
            Console.WriteLine($"{name}: fastest {sorted[0]:F1} ns, median {median:F1} ns, slowest {sorted[^1]:F1} ns per event; {times.Count(t => t > 1.5 * median)} of {times.Length} bursts over 1.5x the median");
        }
    }

    // One burst: arms the handler's signal, publishes every event in order (awaiting each publish), and waits for every delivery.
    private static async Task<double> BurstAsync(CountdownSignal delivered, BenchEvent[] events, Func<BenchEvent, ValueTask> publish)
    {
        var all = delivered.Arm(events.Length);
        var start = Stopwatch.GetTimestamp();
        foreach (var e in events)
        {
            await publish(e);
        }

        await all;
        return Stopwatch.GetElapsedTime(start).TotalNanoseconds / events.Length;
    }

    private static async Task MeasureAsync(string name, LatencyRecorder recorder, Func<TimedEvent, ValueTask> publish)
    {
        const int Saturate = 2_000_000, Paced = 1_000_000;
        recorder.Reset(Saturate, record: false);
        var watch = Stopwatch.StartNew();
        for (var i = 0; i < Saturate; i++)
        {
            await publish(new TimedEvent(0));
        }

        await recorder.Done;
        var max = Saturate / watch.Elapsed.TotalSeconds;

        // Publish at half the maximum rate: a busy-wait paces each publish (no timer is precise at microseconds).
        var rate = max / 2;
        var ticksPerEvent = Stopwatch.Frequency / rate;
        recorder.Reset(Paced, record: true);
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < Paced; i++)
        {
            var due = start + (long)(i * ticksPerEvent);
            while (Stopwatch.GetTimestamp() < due)
            {
                Thread.SpinWait(8);
            }

            await publish(new TimedEvent(Stopwatch.GetTimestamp()));
        }

        await recorder.Done;
        var latencies = recorder.Latencies.Select(t => t * 1e6 / Stopwatch.Frequency).Order().ToArray();
        double At(double p) => latencies[Math.Min(latencies.Length - 1, (int)(p * latencies.Length))];
        Console.WriteLine($"{name}: max {max / 1e6:F2} M events/s; at {rate / 1e6:F2} M events/s: p50 {At(0.50):F1} µs, p90 {At(0.90):F1} µs, p99 {At(0.99):F1} µs, p99.9 {At(0.999):F1} µs, max {latencies[^1]:F0} µs");
    }

    /// <summary>An event of the scale run.</summary>
    /// <param name="N">A payload.</param>
    public sealed record ScaleEvent(int N);

    /// <summary>An event stamped with its publish time (<see cref="Stopwatch"/> ticks).</summary>
    /// <param name="PublishedAt">The publish time.</param>
    public sealed record TimedEvent(long PublishedAt);

    /// <summary>Tags that make <see cref="Counting{TTag}"/> four distinct handler types.</summary>
    public sealed class First;

    /// <inheritdoc cref="First"/>
    public sealed class Second;

    /// <inheritdoc cref="First"/>
    public sealed class Third;

    /// <inheritdoc cref="First"/>
    public sealed class Fourth;

    /// <summary>Counts deliveries.</summary>
    public sealed class DeliveryCount
    {
        private long _count;

        /// <summary>Counts one delivery.</summary>
        public void Increment() => Interlocked.Increment(ref _count);

        /// <summary>Waits (yielding) until <paramref name="target"/> deliveries were counted.</summary>
        /// <param name="target">The count to reach.</param>
        /// <returns>A task that completes then.</returns>
        public async Task WaitForAsync(long target)
        {
            while (Interlocked.Read(ref _count) < target)
            {
                await Task.Yield();
            }
        }
    }

    /// <summary>A counting handler; each tag is a subscription of its own.</summary>
    /// <typeparam name="TTag">The tag.</typeparam>
    /// <param name="count">The shared count.</param>
    public sealed class Counting<TTag>(DeliveryCount count) : IEventHandler<ScaleEvent>
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(ScaleEvent @event, MessageContext context, CancellationToken cancellationToken)
        {
            count.Increment();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Records publish-to-handler latencies.</summary>
    public sealed class LatencyRecorder
    {
        private long[] _latencies = [];
        private int _count;
        private int _target;
        private bool _record;
        private TaskCompletionSource _done = new();

        /// <summary>Gets a task that completes when the target count is reached.</summary>
        public Task Done => _done.Task;

        /// <summary>Gets the recorded latencies in <see cref="Stopwatch"/> ticks.</summary>
        public IReadOnlyList<long> Latencies => _latencies;

        /// <summary>Starts a new measurement.</summary>
        /// <param name="target">How many deliveries to wait for.</param>
        /// <param name="record">Whether to record latencies.</param>
        public void Reset(int target, bool record)
        {
            _latencies = new long[record ? target : 0];
            _count = 0;
            _target = target;
            _record = record;
            _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        /// <summary>Records one delivery (called by one handler thread at a time).</summary>
        /// <param name="publishedAt">The publish time.</param>
        public void Add(long publishedAt)
        {
            var now = Stopwatch.GetTimestamp();
            var i = _count++;
            if (_record)
            {
                _latencies[i] = now - publishedAt;
            }

            if (_count == _target)
            {
                _done.TrySetResult();
            }
        }
    }

    /// <summary>Records the latency of each event.</summary>
    /// <param name="recorder">The recorder.</param>
    public sealed class Timing(LatencyRecorder recorder) : IEventHandler<TimedEvent>
    {
        /// <inheritdoc />
        public ValueTask HandleAsync(TimedEvent @event, MessageContext context, CancellationToken cancellationToken)
        {
            recorder.Add(@event.PublishedAt);
            return ValueTask.CompletedTask;
        }
    }
}
