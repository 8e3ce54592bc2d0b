using Microsoft.Extensions.Logging;

namespace EventBus;

/// <summary>
/// Reports every message that was not handled successfully, once: logged, passed to the observers and to
/// <see cref="EventBusOptions.OnUndelivered"/>, and failed to the sender that awaits it. Keeps dead letters in their store, and the
/// messages a stop could not finish for its report.
/// </summary>
internal sealed class FailureReporter(ILogger logger, Action<UndeliveredMessage>? onUndelivered, BusObservers observers)
{
    private readonly List<UndeliveredMessage> _unfinished = [];

    /// <summary>Logs (unless the caller already logged it, e.g. as a dead letter), records and passes on a message that was not handled.</summary>
    public void Report(UndeliveredMessage message, bool log = true)
    {
        var context = message.Context;
        if (log)
        {
            LogUndelivered(message);
        }

        if (observers.Any)
        {
            observers.Undelivered(message);
        }

        if (onUndelivered is { } callback)
        {
            try
            {
                callback(message);
            }
            catch (Exception e)
            {
                Log.UndeliveredCallbackFailed(logger, context.MessageType, context.MessageId, e);
            }
        }

        // Last: a sender awaiting this command's outcome learns it was not handled once the report (and the dead letter) exist.
        context.Reply?.Fail(message);
    }

    /// <summary>Reports a message the stop could not finish, and keeps it for the stop's report.</summary>
    public void ReportUnfinished(UndeliveredMessage message)
    {
        Report(message);
        lock (_unfinished)
        {
            _unfinished.Add(message);
        }
    }

    /// <summary>The messages reported unfinished so far, in report order.</summary>
    public List<UndeliveredMessage> Unfinished()
    {
        lock (_unfinished)
        {
            return [.. _unfinished];
        }
    }

    /// <summary>
    /// Dead-letters a message whose attempts failed: keeps it in <paramref name="store"/>, logs it, and reports it (and the oldest
    /// dead letter it pushed out of a full store).
    /// </summary>
    public void DeadLetter(DeadLetterStore store, DeadLetter deadLetter, Exception? exception)
    {
        var context = deadLetter.Context;
        var discarded = store.Add(deadLetter);
        // The handler's exception goes with the entry, so that its stack trace is logged where the message's delivery ends (with
        // one attempt, the default, this is the only entry that names the failure).
        Log.DeadLettered(logger, deadLetter.Subscription, context.MessageType, context.MessageId, deadLetter.DeliveryCount, deadLetter.Reason, exception);
        var reason = exception is null ? UndeliveredReason.Nacked : UndeliveredReason.HandlerFailed;
        Report(new UndeliveredMessage(deadLetter.Message, context, deadLetter.Topic, deadLetter.Subscription, reason, exception), log: false);
        if (discarded is not null)
        {
            Report(new UndeliveredMessage(discarded.Message, discarded.Context, discarded.Topic, discarded.Subscription, UndeliveredReason.DeadLetterDiscarded, null));
        }
    }

    private void LogUndelivered(UndeliveredMessage message)
    {
        var context = message.Context;
        switch (message.Reason)
        {
            case UndeliveredReason.HandlerFailed:
                Log.HandlerFailed(logger, message.Subscription, context.MessageType, context.MessageId, context.DeliveryCount, message.Exception);
                break;
            case UndeliveredReason.DroppedOldest or UndeliveredReason.DroppedNewest:
                Log.MessageDropped(logger, message.Subscription, context.MessageType, context.MessageId, message.Reason);
                break;
            case UndeliveredReason.CommandRejected:
                Log.CommandRejected(logger, context.MessageType, context.MessageId, ((CommandRejectedException)message.Exception!).Rejection.Reason);
                break;
            case UndeliveredReason.Nacked or UndeliveredReason.DeadLetterDiscarded:
                break; // the dead-letter log entry says it all
            default:
                Log.MessageUnfinished(logger, message.Subscription, context.MessageType, context.MessageId, message.Reason);
                break;
        }
    }
}
