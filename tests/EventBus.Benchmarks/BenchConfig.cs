using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;

namespace EventBus.Benchmarks;

/// <summary>The configuration of every run: BenchmarkDotNet's defaults, a median column, and the quick mode.</summary>
public static class BenchConfig
{
    /// <summary>The environment variable that selects the quick mode when set to <c>1</c> or <c>true</c>.</summary>
    public const string QuickVariable = "EVENTBUS_BENCH_QUICK";

    /// <summary>Creates the configuration for a run.</summary>
    /// <param name="args">The command line; a <c>--job</c>/<c>-j</c> argument takes precedence over <see cref="QuickVariable"/>.</param>
    /// <returns>The configuration.</returns>
    public static IConfig Create(string[] args)
    {
        var config = DefaultConfig.Instance
            .AddColumn(StatisticColumn.Median)
            .WithSummaryStyle(SummaryStyle.Default.WithMaxParameterColumnWidth(40));

        if (IsQuick() && !Array.Exists(args, a => a is "--job" or "-j"))
        {
            // ShortRun: one launch, 3 warm-up and 3 measured iterations. Enough to see the ratios on a quiet machine in a few
            // minutes for the whole suite; the published numbers use the default job.
            config = config.AddJob(Job.ShortRun.WithId("Quick"));
        }

        return config;
    }

    private static bool IsQuick() =>
        Environment.GetEnvironmentVariable(QuickVariable) is { } value
        && (value == "1" || value.Equals("true", StringComparison.OrdinalIgnoreCase));
}
