using BenchmarkDotNet.Running;
using EventBus.Benchmarks;

// Runs the benchmarks picked by the command line (BenchmarkDotNet's switcher: --filter, --job, --list, ...).
// See docs/benchmarks.md for the commands. EVENTBUS_BENCH_QUICK=1 selects the quick job; a --job argument wins over it.
// "scale" (or "scale stream"), "latency" and "bursts" (optionally a count) run the load checks that are not BenchmarkDotNet
// rows (LoadChecks.cs); "throughput" (optionally --events N --rounds R) runs the plain console check of the bus against both
// channels (Throughput.cs).
switch (args.FirstOrDefault())
{
    case "scale":
        await LoadChecks.ScaleAsync(stream: args.Skip(1).FirstOrDefault() == "stream");
        break;
    case "latency":
        await LoadChecks.LatencyAsync();
        break;
    case "bursts":
        await LoadChecks.BurstsAsync(args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 40);
        break;
    case "throughput":
        Environment.ExitCode = await Throughput.RunAsync(args[1..]);
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(BenchConfig).Assembly).Run(args, BenchConfig.Create(args));
        break;
}
