using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace EventBus.Tests.Diagnostics;

/// <summary>What the bus logs and keeps where a message's delivery ends badly: enough to find the failure without tracing.</summary>
public sealed class LoggingTests
{
    [Fact]
    public async Task DeadLettered_WithTheDefaultSingleAttempt_TheLogEntryAndTheDeadLetterCarryTheHandlersExceptionAndStackTrace()
    {
        var logs = new List<string>();
        var exceptions = new List<(string? EventName, Exception? Exception)>();
        await using var bus = await TestBus.StartAsync(
            b => b.AddEventHandler<Charge, DecliningHandler>(),
            s => s.AddLogging(l => l.AddProvider(new ListLoggerProvider(logs, exceptions)).SetMinimumLevel(LogLevel.Debug)));

        await bus.Bus.PublishAsync(new Charge(42));
        await bus.Undelivered.WaitForCountAsync(1);
        await bus.Control.StopAsync();

        lock (logs)
        {
            var deadLettered = exceptions.Should().ContainSingle(e => e.EventName == "DeadLettered").Subject.Exception;
            deadLettered.Should().BeOfType<InvalidOperationException>().Which.Message.Should().Be("card 42 declined");
            deadLettered!.StackTrace.Should().Contain(nameof(DecliningHandler), "the entry shows where the handler failed");
            logs.Should().ContainSingle(m => m.StartsWith("Error DeadLettered:", StringComparison.Ordinal));
        }

        var deadLetter = bus.Get<IDeadLetterQueue>().GetDeadLetters().Should().ContainSingle().Subject;
        deadLetter.ExceptionType.Should().Be(typeof(InvalidOperationException).FullName);
        deadLetter.ExceptionMessage.Should().Be("card 42 declined");
        deadLetter.ExceptionDetails.Should().StartWith("System.InvalidOperationException: card 42 declined").And.Contain(nameof(DecliningHandler));
    }

    public sealed record Charge(int Card);

    public sealed class DecliningHandler : IEventHandler<Charge>
    {
        public ValueTask HandleAsync(Charge @event, MessageContext context, CancellationToken cancellationToken) =>
            throw new InvalidOperationException($"card {@event.Card} declined");
    }
}
