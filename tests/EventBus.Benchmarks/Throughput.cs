using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime;
using System.Runtime.InteropServices;

namespace EventBus.Benchmarks;

/// <summary>
/// The plain console throughput check a user runs first (<c>-- throughput</c>, see docs/benchmarks.md): W1, one publisher to one
/// singleton handler, through the bus and through the two raw <see cref="System.Threading.Channels.Channel{T}"/> baselines the
/// design measures it against (bounded with the bus's default capacity, and unbounded), printed side by side as events per second.
/// </summary>
/// <remarks>
/// The three contenders live in one process and take turns: one warm-up round each, then the measured rounds, contender by
/// contender, starting each round with the next contender, so that a slow spell of the machine falls on all of them alike and
/// none always runs right after another. Each round uses the W1 rows' loop (<see cref="EventWorkload"/>): it publishes N
/// preallocated events, awaiting each publish, and ends when the handler has counted all N deliveries.
/// </remarks>
internal static class Throughput
{
    private const int DefaultEvents = 1_000_000, MinEvents = 1_000, MaxEvents = 10_000_000;
    private const int DefaultRounds = 5, MinRounds = 1, MaxRounds = 100;
    private const string Command = "dotnet run -c Release --project tests/EventBus.Benchmarks -- throughput";

    private static readonly string s_usage = string.Create(CultureInfo.InvariantCulture, $"""
        usage: {Command} [--events N] [--rounds R]

        Publishes N events per round from one publisher to one handler through the bus, a bounded Channel<T>
        (capacity {RawChannel.Capacity}, the bus's default) and an unbounded Channel<T>, taking turns, and prints
        events/s side by side.

          --events N   events per round, {MinEvents:N0} to {MaxEvents:N0} (default {DefaultEvents:N0})
          --rounds R   measured rounds per contender after one warm-up round, {MinRounds} to {MaxRounds} (default {DefaultRounds})
        """);

    /// <summary>Runs the check with the options on the command line (the arguments after <c>throughput</c>).</summary>
    /// <param name="args">The options.</param>
    /// <returns>The process's exit code: 0 when the table was printed (or the usage asked for), 2 for a bad command line.</returns>
    public static async Task<int> RunAsync(string[] args)
    {
        var (options, error) = ParseOptions(args);
        if (options is not { } o)
        {
            if (error is null)
            {
                Console.WriteLine(s_usage);
                return 0;
            }

            Console.Error.WriteLine($"error: {error}");
            Console.Error.WriteLine(s_usage);
            return 2;
        }

        WarnIfNotRepresentative();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"W1, one publisher -> one singleton handler: {o.Events:N0} events per round, 1 warm-up and {o.Rounds} measured rounds per contender, taking turns."));
        Console.WriteLine();

        ThroughputContender[] contenders =
        [
            ThroughputContender.ForBus(o.Events),
            ThroughputContender.ForBoundedChannel(o.Events),
            ThroughputContender.ForUnboundedChannel(o.Events),
        ];
        foreach (var contender in contenders)
        {
            await contender.StartAsync();
        }

        var seconds = Array.ConvertAll(contenders, _ => new List<double>());
        for (var round = 0; round <= o.Rounds; round++)
        {
            for (var turn = 0; turn < contenders.Length; turn++)
            {
                var i = (round + turn) % contenders.Length;

                // A full collection before every round, as BenchmarkDotNet forces one between iterations: no contender pays
                // for the garbage of the round before it.
                GC.Collect();
                GC.WaitForPendingFinalizers();
                GC.Collect();
                var elapsed = await contenders[i].RoundAsync(round);
                if (round > 0)
                {
                    seconds[i].Add(elapsed.TotalSeconds);
                }
            }
        }

        foreach (var contender in contenders)
        {
            await contender.StopAsync();
        }

        PrintTable(contenders, seconds, o.Events);
        Console.WriteLine();
        Console.WriteLine(DescribeMachine());
        return 0;
    }

    // The options, or (null, null) when the usage was asked for, or (null, the reason) for a bad command line.
    private static (Options? Options, string? Error) ParseOptions(string[] args)
    {
        int? events = null, rounds = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "-h" or "--help" or "-?":
                    return (null, null);
                case "--events":
                    if (Read(ref events, MinEvents, MaxEvents, "events per round") is { } eventsError)
                    {
                        return (null, eventsError);
                    }

                    break;
                case "--rounds":
                    if (Read(ref rounds, MinRounds, MaxRounds, "measured rounds per contender") is { } roundsError)
                    {
                        return (null, roundsError);
                    }

                    break;
                default:
                    return (null, $"'{args[i]}' is not an option of throughput; it takes --events and --rounds.");
            }

            string? Read(ref int? value, int min, int max, string what)
            {
                var name = args[i];
                if (value is not null)
                {
                    return $"{name} is given twice.";
                }

                if (++i == args.Length)
                {
                    return $"{name} needs a value: the number of {what}.";
                }

                // "1000000", "1,000,000" and "1_000_000" all read as a million.
                var text = args[i];
                if (!int.TryParse(text.Replace("_", "", StringComparison.Ordinal), NumberStyles.AllowThousands, CultureInfo.InvariantCulture, out var number)
                    || number < min || number > max)
                {
                    return string.Create(CultureInfo.InvariantCulture, $"{name} takes the number of {what}, a whole number from {min:N0} to {max:N0}; '{text}' is not one.");
                }

                value = number;
                return null;
            }
        }

        return (new Options(events ?? DefaultEvents, rounds ?? DefaultRounds), null);
    }

    // BenchmarkDotNet refuses to measure unoptimized code; this check measures anyway and says why the figures mislead.
    private static void WarnIfNotRepresentative()
    {
        var unoptimized = new[] { typeof(Throughput).Assembly, typeof(IEventBus).Assembly }
            .Where(a => a.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled == true)
            .Select(a => a.GetName().Name)
            .ToList();
        if (unoptimized.Count > 0)
        {
            Console.WriteLine($"warning: {string.Join(" and ", unoptimized)} {(unoptimized.Count == 1 ? "is" : "are")} built without optimizations (Debug): the figures below do not represent the bus or the channels. Run: {Command}");
        }

        if (Debugger.IsAttached)
        {
            Console.WriteLine("warning: a debugger is attached: the figures below do not represent the bus or the channels. Run without one.");
        }
    }

    private static void PrintTable(ThroughputContender[] contenders, List<double>[] seconds, int events)
    {
        var rates = Array.ConvertAll(seconds, s => s.Select(t => events / t).Order().ToArray());
        var medians = Array.ConvertAll(rates, Median);
        var busNanoseconds = 1e9 / medians[0];
        string[] header = ["contender", "median events/s", "min - max events/s", "ns/event", "bus ns / this ns"];
        var rows = new List<string[]> { header };
        for (var i = 0; i < contenders.Length; i++)
        {
            var nanoseconds = 1e9 / medians[i];
            rows.Add(
            [
                contenders[i].Name,
                Format($"{medians[i]:N0}"),
                Format($"{rates[i][0]:N0} - {rates[i][^1]:N0}"),
                Format($"{nanoseconds:F1}"),
                i == 0 ? "-" : Format($"{busNanoseconds / nanoseconds:F2}"),
            ]);
        }

        var widths = Enumerable.Range(0, header.Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
        {
            // The first column is text, left-aligned; the others are figures, right-aligned.
            Console.WriteLine(string.Join("   ", row.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c]))).TrimEnd());
        }

        static string Format(FormattableString value) => value.ToString(CultureInfo.InvariantCulture);
    }

    private static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;

    private static string DescribeMachine()
    {
        // A virtual machine may name only the CPU's family ("AMD EPYC"); the clock rate then tells its generations apart.
        var cpu = ReadLinuxValue("/proc/cpuinfo", "model name", ':') is { } model
            ? $"{model}{ClockRate()} ({RuntimeInformation.ProcessArchitecture})"
            : $"{RuntimeInformation.ProcessArchitecture} CPU";
        var os = ReadLinuxValue("/etc/os-release", "PRETTY_NAME", '=')?.Trim('"') ?? RuntimeInformation.OSDescription;
        var gc = GCSettings.IsServerGC ? "server" : "workstation";
        return $"machine: {cpu}, {Environment.ProcessorCount} logical cores; {os}; {RuntimeInformation.FrameworkDescription}, {gc} GC";
    }

    private static string ClockRate() =>
        double.TryParse(ReadLinuxValue("/proc/cpuinfo", "cpu MHz", ':'), NumberStyles.Float, CultureInfo.InvariantCulture, out var mhz) && mhz > 0
            ? string.Create(CultureInfo.InvariantCulture, $" at {mhz / 1000:F2} GHz")
            : "";

    // The value of the first "key<separator>value" line of a Linux system file; null where the file or the key is absent.
    private static string? ReadLinuxValue(string path, string key, char separator)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        foreach (var line in File.ReadLines(path))
        {
            var at = line.IndexOf(separator, StringComparison.Ordinal);
            if (at > 0 && line.AsSpan(0, at).Trim().SequenceEqual(key))
            {
                var value = line[(at + 1)..].Trim();
                return value.Length > 0 ? value : null;
            }
        }

        return null;
    }

    private readonly record struct Options(int Events, int Rounds);
}

/// <summary>
/// One contender of the throughput check: the W1 workload (its batch of events, its singleton <see cref="SingleHandler"/>, the
/// W1 rows' measured loop) run through the bus, a bounded channel or an unbounded channel.
/// </summary>
internal sealed class ThroughputContender : EventWorkload
{
    private readonly Kind _kind;
    private readonly SingleHandler _handler;
    private readonly int _events;

    private ThroughputContender(string name, Kind kind, int events, SingleHandler handler)
        : base(events, handler)
    {
        Name = name;
        _kind = kind;
        _events = events;
        _handler = handler;
    }

    private enum Kind
    {
        Bus,
        BoundedChannel,
        UnboundedChannel,
    }

    /// <summary>Gets the contender's name in the table.</summary>
    public string Name { get; }

    /// <summary>The bus: <c>IEventBus.PublishAsync</c> to a started bus with one singleton handler, default options.</summary>
    /// <param name="events">Events per round.</param>
    /// <returns>The contender, not started.</returns>
    public static ThroughputContender ForBus(int events) => new("EventBus PublishAsync", Kind.Bus, events, new SingleHandler());

    /// <summary>The bounded baseline: a channel of the bus's default capacity, full mode Wait, one reader loop calling the handler.</summary>
    /// <param name="events">Events per round.</param>
    /// <returns>The contender, not started.</returns>
    public static ThroughputContender ForBoundedChannel(int events) =>
        new($"Channel<T> bounded ({RawChannel.Capacity})", Kind.BoundedChannel, events, new SingleHandler());

    /// <summary>The unbounded baseline: an unbounded channel, one reader loop calling the handler.</summary>
    /// <param name="events">Events per round.</param>
    /// <returns>The contender, not started.</returns>
    public static ThroughputContender ForUnboundedChannel(int events) =>
        new("Channel<T> unbounded", Kind.UnboundedChannel, events, new SingleHandler());

    /// <summary>Creates the batch and starts the bus or the channel's reader loop.</summary>
    /// <returns>A task that completes when the contender accepts events.</returns>
    public Task StartAsync()
    {
        switch (_kind)
        {
            case Kind.Bus:
                return StartBusAsync(bus => bus.AddEventHandler<BenchEvent, SingleHandler>(ServiceLifetime.Singleton));
            case Kind.BoundedChannel:
                StartRawChannels();
                return Task.CompletedTask;
            default:
                StartRawChannels(bounded: false);
                return Task.CompletedTask;
        }
    }

    /// <summary>One round: publishes the batch and waits until the handler has counted every delivery.</summary>
    /// <param name="round">The round's number (0 for the warm-up), for the messages of a failed round.</param>
    /// <returns>The time from the first publish to the last delivery.</returns>
    public async Task<TimeSpan> RoundAsync(int round)
    {
        EnsureEveryDeliveryCounted($"before round {round}");
        var start = Stopwatch.GetTimestamp();
        try
        {
            await (_kind == Kind.Bus
                ? PublishBatchAsync(new BusPublisher(Bus.Events))
                : PublishBatchAsync(new ChannelPublisher(RawWriter(0))));
        }
        catch (TimeoutException e)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"{Name}: round {round} of {_events:N0} events did not finish: {e.Message}"), e);
        }

        return Stopwatch.GetElapsedTime(start);
    }

    /// <summary>Stops the bus (draining) or completes the channel and waits for its reader, then checks the last round's count once more.</summary>
    /// <returns>A task that completes when the contender has stopped.</returns>
    public async Task StopAsync()
    {
        await (_kind == Kind.Bus ? StopBusAsync() : StopRawChannelsAsync());
        EnsureEveryDeliveryCounted("after the last round and the stop");
    }

    // A round ends when its count reaches zero. A delivery that comes after that (a duplicate) takes the count below zero and
    // is caught here, before the next round re-arms the count, and after the stop, when nothing can still be in flight.
    private void EnsureEveryDeliveryCounted(string when)
    {
        var remaining = _handler.Signal.Remaining;
        if (remaining < 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"{Name}: {-remaining:N0} deliveries more than the {_events:N0} events of the round were counted {when}: an event was delivered twice."));
        }

        if (remaining > 0)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"{Name}: {remaining:N0} of the {_events:N0} events of the round were not delivered {when}."));
        }
    }
}
