namespace EventBus.Tests.Infrastructure;

/// <summary>Files of the repository the tests run from (the README, the package readmes, project files).</summary>
public static class RepositoryFiles
{
    /// <summary>Reads a file by its path from the repository's root (where EventBus.sln is).</summary>
    public static string Read(string relativePath) => File.ReadAllText(Path.Combine(Root(), relativePath));

    /// <summary>The first C# block after a document's "## Quick start" heading, without its fences.</summary>
    public static string QuickStart(string markdown)
    {
        var section = markdown.IndexOf("## Quick start", StringComparison.Ordinal);
        if (section < 0)
        {
            throw new InvalidOperationException("The document has no '## Quick start' section.");
        }

        var start = markdown.IndexOf("```csharp", section, StringComparison.Ordinal) + "```csharp".Length;
        var end = markdown.IndexOf("```", start, StringComparison.Ordinal);
        return markdown[start..end];
    }

    private static string Root()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "EventBus.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"No EventBus.sln above {AppContext.BaseDirectory}.");
    }
}
