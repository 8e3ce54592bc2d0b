using Microsoft.Extensions.Logging;

namespace EventBus.Tests.Infrastructure;

/// <summary>Collects every formatted log message (any category, any level) into a list, for tests that assert what was logged.</summary>
public sealed class ListLoggerProvider(List<string> messages) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new ListLogger(messages);

    public void Dispose()
    {
    }

    private sealed class ListLogger(List<string> messages) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (messages)
            {
                messages.Add($"{logLevel} {eventId.Name}: {formatter(state, exception)}");
            }
        }
    }
}
