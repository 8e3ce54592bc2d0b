namespace EventBus;

/// <content>The dead-letter queue API over every subscription.</content>
internal sealed partial class EventBusRuntime
{
    public int Count => AllSubscriptions().Sum(s => s.DeadLetters.Count);

    public IReadOnlyList<DeadLetter> GetDeadLetters(string? subscription = null) =>
        AllSubscriptions().Where(s => subscription is null || s.Name == subscription)
            .SelectMany(s => s.DeadLetters.Snapshot())
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
        AllSubscriptions().Sum(s => s.DeadLetters.Take(predicate).Count);
}
