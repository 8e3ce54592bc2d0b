namespace EventBus;

/// <summary>
/// A publisher's cached backlog limit: the highest position (events added, or the stream's head) known to fit, as last read.
/// While a publish stays within it, the publisher reads nothing the consumer writes on every message; past it, the publisher
/// reads the consumer's progress again (<see cref="Refresh"/>). Used by subscriptions (<see cref="BufferCount"/>) and consumer
/// groups (<see cref="StreamConsumer.RoomCache"/>). The limit only needs refreshing when consumers made room, so it is safe to
/// use until reached; whatever shrinks the room otherwise (a delayed redelivery, a seek backwards) calls <see cref="Invalidate"/>.
/// </summary>
internal struct RoomLimit
{
    private long _limit;

    /// <summary>Whether <paramref name="position"/> is within the limit as last read.</summary>
    public readonly bool Covers(long position) => position <= Volatile.Read(in _limit);

    /// <summary>Stores the limit just read from the consumer and returns whether <paramref name="position"/> is within it.</summary>
    public bool Refresh(long position, long limit)
    {
        Volatile.Write(ref _limit, limit);
        return position <= limit;
    }

    /// <summary>Forgets the limit: the next check reads the consumer's progress again.</summary>
    public void Invalidate() => Volatile.Write(ref _limit, 0);
}
