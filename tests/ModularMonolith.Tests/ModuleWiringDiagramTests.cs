using EventBus;
using Microsoft.Extensions.DependencyInjection;

namespace ModularMonolith.Tests;

/// <summary>
/// The diagram in the sample's README ("Module wiring (generated)") is the bus's own <see cref="BusTopology.ToMermaid"/> output for
/// the sample's registration. This test fails when the two drift apart: regenerate the README block from the actual value it prints.
/// </summary>
/// <remarks>
/// The commands the sample only sends inline (<c>PlaceOrder</c>, <c>ReserveStock</c>) are drawn with the queue a first
/// <c>EnqueueAsync</c> would give them: <see cref="EventBusOptions.QueueWorkers"/> workers, by default the processor count. That
/// count is pinned to <see cref="QueueWorkers"/> here so that the diagram is the same on every machine.
/// </remarks>
public sealed class ModuleWiringDiagramTests
{
    /// <summary>The value of <see cref="EventBusOptions.QueueWorkers"/> the README's diagram is generated with.</summary>
    public const int QueueWorkers = 4;

    private const string Heading = "## Module wiring (generated)";

    [Fact]
    public async Task ReadmeDiagram_IsTheMermaidTheBusGeneratesForTheSampleRegistration()
    {
        await using var services = SampleApp.Build(withHarness: false, queueWorkers: QueueWorkers);

        var generated = services.GetRequiredService<IEventBusControl>().DescribeTopology().ToMermaid();

        ReadmeDiagram().Should().Be(generated, "samples/ModularMonolith/README.md must show the diagram the bus generates");
    }

    /// <summary>The first <c>```mermaid</c> block after <see cref="Heading"/> in the sample's README, with "\n" line ends.</summary>
    private static string ReadmeDiagram()
    {
        var readme = Path.Combine(RepositoryRoot(), "samples", "ModularMonolith", "README.md");
        var lines = File.ReadAllText(readme).ReplaceLineEndings("\n").Split('\n');
        var heading = Array.IndexOf(lines, Heading);
        heading.Should().BeGreaterThanOrEqualTo(0, "{0} has a \"{1}\" section", readme, Heading);
        var start = Array.FindIndex(lines, heading, l => l == "```mermaid");
        start.Should().BeGreaterThan(heading, "the section has a ```mermaid block");
        var end = Array.FindIndex(lines, start + 1, l => l == "```");
        end.Should().BeGreaterThan(start, "the ```mermaid block is closed");
        return string.Concat(lines[(start + 1)..end].Select(l => l + "\n"));
    }

    /// <summary>The folder that holds EventBus.sln, found by walking up from the test's output folder.</summary>
    private static string RepositoryRoot()
    {
        for (var folder = new DirectoryInfo(AppContext.BaseDirectory); folder is not null; folder = folder.Parent)
        {
            if (File.Exists(Path.Combine(folder.FullName, "EventBus.sln")))
            {
                return folder.FullName;
            }
        }

        throw new InvalidOperationException($"No folder above {AppContext.BaseDirectory} contains EventBus.sln.");
    }
}
