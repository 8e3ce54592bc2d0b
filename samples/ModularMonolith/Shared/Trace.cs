using EventBus;

namespace ModularMonolith.Shared;

/// <summary>The console trace every module writes to: one line per step, prefixed with the module's name.</summary>
internal static class Trace
{
    public static void Write(string module, string text, string? correlationId = null) =>
        Console.WriteLine(correlationId is null ? $"{"[" + module + "]",-16}{text}" : $"{"[" + module + "]",-16}{text,-62} {correlationId}");

    /// <summary>Writes a step done while handling a message, followed by the flow's correlation id read from its envelope.</summary>
    public static void Write(string module, string text, in MessageContext context) => Write(module, text, context.CorrelationId ?? "-");
}
