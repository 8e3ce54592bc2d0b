namespace EventBus;

/// <summary>The dead letters of every subscription and consumer group of one bus (<see cref="IDeadLetterQueue"/>): listed, re-driven, purged.</summary>
internal sealed class DeadLetterQueue(TopicTable topics, EventStreams streams, BusLifecycle lifecycle) : IDeadLetterQueue
{
    public int Count => DeadLetterStores().Sum(s => s.Store.Count);

    public IReadOnlyList<DeadLetter> GetDeadLetters(string? subscription = null) =>
        DeadLetterStores().Where(s => subscription is null || s.Name == subscription)
            .SelectMany(s => s.Store.Snapshot())
            .OrderBy(d => d.LastFailure).ThenBy(d => d.MessageId)
            .ToList();

    public async ValueTask<int> RedriveAsync(Func<DeadLetter, bool>? predicate = null, CancellationToken cancellationToken = default)
    {
        if (lifecycle.IsStopping)
        {
            ThrowHelper.ThrowStopped();
        }

        var redriven = 0;
        foreach (var subscription in topics.Subscriptions())
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
        topics.Subscriptions().Select(s => (s.Name, s.DeadLetters)).Concat(streams.Consumers().Select(c => (c.Name, c.DeadLetters)));
}
