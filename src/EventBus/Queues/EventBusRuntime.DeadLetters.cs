namespace EventBus;

/// <content>The dead-letter queue API over every subscription.</content>
internal sealed partial class EventBusRuntime
{
    /// <summary>
    /// Dead-letters a message whose attempts failed: keeps it in <paramref name="store"/>, logs it, and reports it (and the oldest
    /// dead letter it pushed out of a full store) to <see cref="EventBusOptions.OnUndelivered"/>. Shared by subscriptions and groups.
    /// </summary>
    internal void DeadLetter(DeadLetterStore store, DeadLetter deadLetter, Exception? exception)
    {
        var context = deadLetter.Context;
        var discarded = store.Add(deadLetter);
        Log.DeadLettered(_logger, deadLetter.Subscription, context.MessageType, context.MessageId, deadLetter.DeliveryCount, deadLetter.Reason);
        var reason = exception is null ? UndeliveredReason.Nacked : UndeliveredReason.HandlerFailed;
        ReportUndelivered(new UndeliveredMessage(deadLetter.Message, context, deadLetter.Topic, deadLetter.Subscription, reason, exception), log: false);
        if (discarded is not null)
        {
            ReportUndelivered(new UndeliveredMessage(discarded.Message, discarded.Context, discarded.Topic, discarded.Subscription, UndeliveredReason.DeadLetterDiscarded, null));
        }
    }

    public int Count => DeadLetterStores().Sum(s => s.Store.Count);

    public IReadOnlyList<DeadLetter> GetDeadLetters(string? subscription = null) =>
        DeadLetterStores().Where(s => subscription is null || s.Name == subscription)
            .SelectMany(s => s.Store.Snapshot())
            .OrderBy(d => d.LastFailure).ThenBy(d => d.MessageId)
            .ToList();

    public async ValueTask<int> RedriveAsync(Func<DeadLetter, bool>? predicate = null, CancellationToken cancellationToken = default)
    {
        if (IsStopping)
        {
            ThrowHelper.ThrowStopped();
        }

        var redriven = 0;
        foreach (var subscription in AllSubscriptions())
        {
            var taken = subscription.DeadLetters.Take(predicate);
            var index = 0;
            try
            {
                for (; index < taken.Count; index++)
                {
                    while (!subscription.TryRequeue(taken[index]))
                    {
                        await subscription.WaitForRoomAsync(1, cancellationToken).ConfigureAwait(false);
                    }

                    redriven++;
                }
            }
            finally
            {
                if (index < taken.Count)
                {
                    subscription.DeadLetters.Restore(taken.Skip(index));
                }
            }
        }

        return redriven;
    }

    public int Purge(Func<DeadLetter, bool>? predicate = null) =>
        DeadLetterStores().Sum(s => s.Store.Take(predicate).Count);

    /// <summary>The dead letters of every subscription and of every running consumer group (which re-read by seeking, not by re-drive).</summary>
    private IEnumerable<(string Name, DeadLetterStore Store)> DeadLetterStores() =>
        AllSubscriptions().Select(s => (s.Name, s.DeadLetters)).Concat(Consumers().Select(c => (c.Name, c.DeadLetters)));
}
