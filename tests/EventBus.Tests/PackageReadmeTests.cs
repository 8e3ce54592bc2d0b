using System.Text.RegularExpressions;
using EventBus.Tests.Infrastructure;

namespace EventBus.Tests;

/// <summary>
/// The packages' own readmes (PACKAGE.md): a package page cannot follow links into the repository, so they have none, and
/// the quick start they show is the repository README's, word for word.
/// </summary>
public sealed partial class PackageReadmeTests
{
    [Fact]
    public void EventBusPackageReadme_QuickStart_IsTheRepositoryReadmesQuickStart()
    {
        var readme = Read("README.md");
        var package = Read("src/EventBus/PACKAGE.md");

        QuickStart(package).Should().Be(QuickStart(readme), "the package page shows the program the README's quick start shows");
    }

    [Theory]
    [InlineData("src/EventBus/PACKAGE.md")]
    [InlineData("src/EventBus.Testing/PACKAGE.md")]
    public void PackageReadme_HasNoRelativeLinks(string path)
    {
        var links = MarkdownLink().Matches(Read(path)).Select(m => m.Groups["target"].Value);

        links.Where(target => !target.StartsWith("https://", StringComparison.Ordinal)).Should().BeEmpty("a package page cannot resolve a link relative to the repository");
    }

    [Theory]
    [InlineData("src/EventBus/EventBus.csproj")]
    [InlineData("src/EventBus.Testing/EventBus.Testing.csproj")]
    public void Package_PacksItsOwnReadmeAndTheChangelog(string path)
    {
        var project = Read(path);

        project.Should().Contain("<None Include=\"PACKAGE.md\" Pack=\"true\" PackagePath=\"/\" />")
            .And.Contain("<None Include=\"../../CHANGELOG.md\" Pack=\"true\" PackagePath=\"/\" />")
            .And.NotContain("README.md");
    }

    private static string Read(string relativePath) => RepositoryFiles.Read(relativePath);

    private static string QuickStart(string markdown) => RepositoryFiles.QuickStart(markdown);

    [GeneratedRegex(@"\]\((?<target>[^)\s]+)\)")]
    private static partial Regex MarkdownLink();
}
