using System.Collections.Concurrent;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventBus.Tests.Diagnostics;

/// <summary><see cref="EventBusOptions.LogScopes"/>: a handler's own log entries carry the message they were written for.</summary>
public sealed class LogScopeTests
{
    [Fact]
    public async Task Subscription_HandlerLogsBeforeAndAfterAnAwait_BothEntriesCarryTheDeliverysScope()
    {
        var entries = new ScopeRecordingProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Order, LoggingOrderHandler>(),
            s => s.AddLogging(l => l.AddProvider(entries)));

        await bus.Bus.PublishAsync(new Order(7), new PublishOptions { CorrelationId = "flow-7" });
        var handled = (await bus.Log<LoggingOrderHandler, MessageContext>().WaitForCountAsync(1)).Single();

        var written = entries.Written.Where(e => e.Message.StartsWith("order 7", StringComparison.Ordinal)).ToList();
        written.Select(e => e.Message).Should().Equal("order 7 before", "order 7 after");
        foreach (var entry in written)
        {
            entry.Scope.Should().Contain(new KeyValuePair<string, object?>("MessageId", handled.MessageId.ToString()))
                .And.Contain(new KeyValuePair<string, object?>("MessageType", typeof(Order).FullName))
                .And.Contain(new KeyValuePair<string, object?>("CorrelationId", "flow-7"))
                .And.Contain(new KeyValuePair<string, object?>("Subscription", typeof(LoggingOrderHandler).FullName))
                .And.Contain(new KeyValuePair<string, object?>("DeliveryCount", 1));
        }
    }

    [Fact]
    public async Task ConsumerGroup_HandlerLogs_TheEntryCarriesTheGroupsName()
    {
        var entries = new ScopeRecordingProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.AddStreamGroup<Order, LoggingOrderHandler>("billing"),
            s => s.AddLogging(l => l.AddProvider(entries)));

        await bus.Bus.PublishAsync(new Order(3));
        await bus.Log<LoggingOrderHandler, MessageContext>().WaitForCountAsync(1);

        entries.Written.Where(e => e.Message.StartsWith("order 3", StringComparison.Ordinal)).Should().HaveCount(2)
            .And.OnlyContain(e => e.Scope.Contains(new KeyValuePair<string, object?>("Subscription", "billing")));
    }

    [Fact]
    public async Task LogScopesOff_HandlerLogs_TheEntryHasNoDeliveryScope()
    {
        var entries = new ScopeRecordingProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.Configure(o => o.LogScopes = false).AddEventHandler<Order, LoggingOrderHandler>(),
            s => s.AddLogging(l => l.AddProvider(entries)));

        await bus.Bus.PublishAsync(new Order(5));
        await bus.Log<LoggingOrderHandler, MessageContext>().WaitForCountAsync(1);

        entries.Written.Where(e => e.Message.StartsWith("order 5", StringComparison.Ordinal)).Should().HaveCount(2)
            .And.OnlyContain(e => e.Scope.Count == 0);
    }

    [Fact]
    public void Scope_AsText_NamesTheMessageTheSubscriptionAndTheDelivery()
    {
        var id = MessageId.NewId(new DateTimeOffset(2026, 12, 8, 6, 0, 0, TimeSpan.Zero));
        var context = new MessageContext(id, "Orders.Placed", 0, null, null, "Billing.Charge", deliveryCount: 2);

        var scope = new DeliveryLogScope(context);

        scope.ToString().Should().Be($"Orders.Placed {id} on Billing.Charge (delivery 2)");
        scope.Should().Equal(
            new KeyValuePair<string, object?>("MessageId", id.ToString()),
            new KeyValuePair<string, object?>("MessageType", "Orders.Placed"),
            new KeyValuePair<string, object?>("CorrelationId", null),
            new KeyValuePair<string, object?>("Subscription", "Billing.Charge"),
            new KeyValuePair<string, object?>("DeliveryCount", 2));
    }

    public sealed record Order(int N);

    public sealed class LoggingOrderHandler(ILogger<LoggingOrderHandler> logger, Recorder<LoggingOrderHandler, MessageContext> handled) : IEventHandler<Order>
    {
        public async ValueTask HandleAsync(Order @event, MessageContext context, CancellationToken cancellationToken)
        {
            logger.LogInformation("order {N} before", @event.N);
            await Task.Yield(); // the rest runs on another thread, after the worker left the scope
            logger.LogInformation("order {N} after", @event.N);
            handled.Add(context);
        }
    }

    /// <summary>A provider that records each entry with the key-value pairs of every scope active when it was written.</summary>
    private sealed class ScopeRecordingProvider : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider _scopes = new LoggerExternalScopeProvider();

        public ConcurrentQueue<(string Message, List<KeyValuePair<string, object?>> Scope)> Entries { get; } = new();

        public List<(string Message, List<KeyValuePair<string, object?>> Scope)> Written => [.. Entries];

        public ILogger CreateLogger(string categoryName) => new ScopeLogger(this);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public void Dispose()
        {
        }

        private sealed class ScopeLogger(ScopeRecordingProvider provider) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => provider._scopes.Push(state);

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var scope = new List<KeyValuePair<string, object?>>();
                provider._scopes.ForEachScope(
                    static (value, pairs) =>
                    {
                        if (value is IEnumerable<KeyValuePair<string, object?>> values)
                        {
                            pairs.AddRange(values);
                        }
                    },
                    scope);
                provider.Entries.Enqueue((formatter(state, exception), scope));
            }
        }
    }
}
