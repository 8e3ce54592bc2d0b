using System.Reflection;
using System.Runtime.Loader;
using EventBus.Tests.Infrastructure;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace EventBus.Tests;

/// <summary>
/// The README's quick start, as a new user pastes it into <c>Program.cs</c> of <c>dotnet new console</c>: it compiles with no
/// warning against this build of the package, and runs to the output the README describes.
/// </summary>
[Collection(nameof(ConsoleCollection))]
public sealed class ReadmeQuickStartTests
{
    // What `dotnet new console` gives a program besides its own usings (ImplicitUsings), and its nullable context.
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    [Fact]
    public async Task QuickStart_CompilesWithoutWarningsAndPrintsTheOrderAndItsConfirmation()
    {
        var program = RepositoryFiles.QuickStart(RepositoryFiles.Read("README.md"));

        var compilation = CSharpCompilation.Create(
            "QuickStart",
            [CSharpSyntaxTree.ParseText(ImplicitUsings), CSharpSyntaxTree.ParseText(program, path: "Program.cs")],
            References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        using var image = new MemoryStream();
        var emitted = compilation.Emit(image);

        emitted.Diagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning).Select(d => d.ToString()).Should().BeEmpty("the quick start compiles as written");
        emitted.Success.Should().BeTrue();

        var output = await RunAsync(image.ToArray());

        // The order's id, then its confirmation from the subscription's worker (the README says they may come in either order).
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        lines.Should().HaveCount(2);
        var order = lines.Should().ContainSingle(l => l.StartsWith("order ", StringComparison.Ordinal)).Subject;
        var id = Guid.Parse(order["order ".Length..]);
        lines.Should().ContainSingle(l => l.StartsWith($"confirmation for {id} (message ", StringComparison.Ordinal));
    }

    private static async Task<string> RunAsync(byte[] image)
    {
        var context = new AssemblyLoadContext("QuickStart", isCollectible: true);
        var original = Console.Out;
        using var captured = new StringWriter();
        try
        {
            var entryPoint = context.LoadFromStream(new MemoryStream(image)).EntryPoint!;
            Console.SetOut(captured);
            var result = entryPoint.Invoke(null, entryPoint.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
            if (result is Task task)
            {
                await task.WaitAsync(TimeSpan.FromSeconds(60));
            }
        }
        finally
        {
            Console.SetOut(original);
            context.Unload();
        }

        return captured.ToString();
    }

    /// <summary>Every assembly the test host runs with: the framework, and this build of EventBus and its dependencies.</summary>
    private static IEnumerable<MetadataReference> References() =>
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(path => MetadataReference.CreateFromFile(path));
}

/// <summary>Tests that redirect <see cref="Console.Out"/>: they run one at a time, and apart from the tests that do not.</summary>
[CollectionDefinition(nameof(ConsoleCollection), DisableParallelization = true)]
public sealed class ConsoleCollection;
