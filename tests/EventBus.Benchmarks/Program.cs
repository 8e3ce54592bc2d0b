using BenchmarkDotNet.Running;
using EventBus.Benchmarks;

// Runs the benchmarks picked by the command line (BenchmarkDotNet's switcher: --filter, --job, --list, ...).
// See docs/benchmarks.md for the commands. EVENTBUS_BENCH_QUICK=1 selects the quick job; a --job argument wins over it.
// "scale" and "latency" run the two load checks of issue 6 that are not BenchmarkDotNet rows (LoadChecks.cs).
switch (args.FirstOrDefault())
{
    case "scale":
        await LoadChecks.ScaleAsync();
        break;
    case "latency":
        await LoadChecks.LatencyAsync();
        break;
    default:
        BenchmarkSwitcher.FromAssembly(typeof(BenchConfig).Assembly).Run(args, BenchConfig.Create(args));
        break;
}
