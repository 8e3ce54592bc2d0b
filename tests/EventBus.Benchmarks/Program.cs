using BenchmarkDotNet.Running;
using EventBus.Benchmarks;

// Runs the benchmarks picked by the command line (BenchmarkDotNet's switcher: --filter, --job, --list, ...).
// See docs/benchmarks.md for the commands. EVENTBUS_BENCH_QUICK=1 selects the quick job; a --job argument wins over it.
BenchmarkSwitcher.FromAssembly(typeof(BenchConfig).Assembly).Run(args, BenchConfig.Create(args));
