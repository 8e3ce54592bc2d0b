using System.Diagnostics.CodeAnalysis;

namespace EventBus;

/// <summary>Every exception the bus throws on its hot paths, with its full-sentence message, in one place.</summary>
internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowArgumentNull(string paramName) =>
        throw new ArgumentNullException(paramName, "A message cannot be null: publish or send an instance of a message type.");

    [DoesNotReturn]
    public static void ThrowStopped() =>
        throw new ObjectDisposedException(nameof(IEventBus), "The event bus has been stopped and accepts no more messages. Publish before IEventBusControl.StopAsync (or the host's shutdown) is called; a hosted service that publishes while it stops must be registered after AddEventBus, since the host stops hosted services in the reverse order of their registration.");

    [DoesNotReturn]
    public static void ThrowStoppedForCommand() =>
        throw new ObjectDisposedException(nameof(ICommandBus), "The event bus has been stopped and accepts no more commands. Send or enqueue commands before IEventBusControl.StopAsync (or the host's shutdown) is called; a hosted service that sends while it stops must be registered after AddEventBus, since the host stops hosted services in the reverse order of their registration.");

    [DoesNotReturn]
    public static void ThrowCommandPublished(Type type) =>
        throw new ArgumentException($"'{type.FullName}' is a command (it implements ICommand or ICommand<TResult>); commands have exactly one handler and are sent with ICommandBus.SendAsync or EnqueueAsync (or a typed ICommandSender), not published as events.", "event");

    [DoesNotReturn]
    public static void ThrowCommandWriter(Type type) =>
        throw new ArgumentException($"'{type.FullName}' is a command (it implements ICommand or ICommand<TResult>); commands have exactly one handler and are sent with ICommandBus.SendAsync or EnqueueAsync (or a typed ICommandSender), so a channel writer cannot publish them.", "TEvent");

    [DoesNotReturn]
    public static void ThrowWriterMessageId(MessageId id) =>
        throw new ArgumentException($"The options give the message id {id}, but a channel writer publishes many events with the same options, and each event needs an id of its own. Leave PublishOptions.MessageId unset for a writer, or publish such events one at a time with IEventBus.PublishAsync.", "options");

    [DoesNotReturn]
    public static void ThrowUnknownPullSubscription(string name, Type type, string[] known) =>
        throw new ArgumentException(
            $"No pull subscription named '{name}' is registered on the topic '{type.FullName}'. Register it with AddPullSubscription<{type.Name}>(\"{name}\") in AddEventBus"
            + (known.Length == 0 ? "; the topic has no pull subscription." : $"; the topic's pull subscriptions are {string.Join(", ", known.Select(k => $"'{k}'"))}."),
            nameof(name));

    [DoesNotReturn]
    public static void ThrowEventEnqueued(Type type) =>
        throw new ArgumentException($"'{type.FullName}' is not a command (it implements neither ICommand nor ICommand<TResult>); publish events with IEventBus.PublishAsync.", "command");

    [DoesNotReturn]
    public static void ThrowUnknownCommand(Type type) =>
        throw new UnknownMessageTypeException(type, $"No handler is registered for the command '{type.FullName}'. Register one with AddCommandHandler<{type.Name}, ...>() or AddHandlersFromAssembly in AddEventBus.");

    [DoesNotReturn]
    public static void ThrowCommandResultMismatch(Type command, Type handled, Type sent) =>
        throw new ArgumentException($"The command '{command.FullName}' is handled with the result type '{ResultName(handled)}' but was sent as returning '{ResultName(sent)}'. Send it through the ICommand interface its handler takes.", nameof(command));

    [DoesNotReturn]
    public static void ThrowUnknownEvent(Type type) =>
        throw new UnknownMessageTypeException(type, $"No handler subscribes to the event '{type.FullName}' (nor to any of its base types or interfaces), so publishing it would reach nobody. Register a handler, declare the topic with AddTopic<{type.Name}>(), or set EventBusOptions.RequireKnownEventTypes to false.");

    [DoesNotReturn]
    public static void ThrowSelfDeadlock(string topic, string subscription) =>
        throw new InvalidOperationException($"A handler of subscription '{subscription}' published to topic '{topic}', whose buffer for that same subscription is full; waiting would deadlock, because only this handler's worker drains that buffer. Raise the subscription's Capacity, use FullPolicy.FailFast or a drop policy, or publish from outside the handler (e.g. enqueue a command).");

    [DoesNotReturn]
    public static void ThrowBatchTooLarge(string topic, string subscription, int capacity, int count) =>
        throw new ArgumentException($"A batch of {count} events can never be accepted whole by subscription '{subscription}' on topic '{topic}', whose capacity is {capacity}. Split the batch or raise the capacity.", "events");

    [DoesNotReturn]
    public static void ThrowMessageIdFormat(string value, MessageId.ParseError error, int index)
    {
        const string Expected = "A message id is 36 characters, hexadecimal digits in groups of 8-4-4-4-12 separated by hyphens (such as 0192e0f4-5b6c-7d21-8a3e-4f5061728394), or the older form of 32 hexadecimal digits without hyphens";

        // A caller may hand over any text, a whole document even: the message quotes only the start of it.
        var shown = value.Length <= 64 ? value : string.Concat(value.AsSpan(0, 64), "...");
        throw new FormatException(error switch
        {
            MessageId.ParseError.Length => $"{Expected}; '{shown}' has {value.Length} characters.",
            MessageId.ParseError.Hyphen => $"{Expected}; '{shown}' has '{value[index]}' at index {index}, where the 36-character form has a hyphen (indexes 8, 13, 18 and 23).",
            _ => $"{Expected}; '{shown}' has '{value[index]}' at index {index}, which is not a hexadecimal digit (0-9, a-f, A-F).",
        });
    }

    private static string ResultName(Type result) => result == typeof(VoidResult) ? "none (ICommand)" : result.FullName ?? result.Name;
}
