using Microsoft.Extensions.Logging;

namespace EventBus.Tests.Infrastructure;

/// <summary>
/// Collects every formatted log message (any category, any level) into a list, for tests that assert what was logged; and, when
/// given a second list, each entry's event name with the exception it carries.
/// </summary>
public sealed class ListLoggerProvider(List<string> messages, List<(string? EventName, Exception? Exception)>? exceptions = null) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new ListLogger(messages, exceptions);

    public void Dispose()
    {
    }

    private sealed class ListLogger(List<string> messages, List<(string? EventName, Exception? Exception)>? exceptions) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (messages)
            {
                messages.Add($"{logLevel} {eventId.Name}: {formatter(state, exception)}");
                exceptions?.Add((eventId.Name, exception));
            }
        }
    }
}
