namespace EventBus;

/// <summary>
/// Settles the delivery in progress by hand, from its handler: nacks it, dead-letters it, or commits its consumer group's offset.
/// Reached through <see cref="MessageContext.Settlement"/>, which only deliveries that can be settled so hand out: those of
/// subscriptions, command queues and consumer groups. An inline send and a pull subscription's reader have none.
/// </summary>
/// <remarks>
/// A settlement belongs to one delivery: used after its handler returned (kept in a field, or captured by a task that outlives
/// the handler), it throws <see cref="InvalidOperationException"/>.
/// </remarks>
public readonly struct MessageSettlement
{
    private readonly Settlement _settlement;
    private readonly int _version;
    private readonly long _offsetPlusOne;

    internal MessageSettlement(Settlement settlement, int version, long offsetPlusOne)
    {
        _settlement = settlement;
        _version = version;
        _offsetPlusOne = offsetPlusOne;
    }

    /// <summary>Gets a value indicating whether <see cref="Commit"/> applies: the delivery is a consumer group's.</summary>
    public bool CanCommit => _settlement?.Committer is not null && _offsetPlusOne != 0;

    /// <summary>
    /// Negatively acknowledges the delivery without throwing: when the handler returns, the message is redelivered according to
    /// its <see cref="RedeliveryOptions"/>, or dead-lettered once its attempts are used up.
    /// </summary>
    /// <param name="reason">Why; kept in the dead-letter record.</param>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is null, empty or white space.</exception>
    /// <exception cref="InvalidOperationException">The delivery has ended (its handler returned).</exception>
    public void Nack(string reason) => Settle(SettlementKind.Nack, reason);

    /// <summary>
    /// Dead-letters the message when the handler returns, without further attempts: for failures that a retry cannot fix (a
    /// validation error).
    /// </summary>
    /// <param name="reason">Why; kept in the dead-letter record.</param>
    /// <exception cref="ArgumentException"><paramref name="reason"/> is null, empty or white space.</exception>
    /// <exception cref="InvalidOperationException">The delivery has ended (its handler returned).</exception>
    public void DeadLetter(string reason) => Settle(SettlementKind.DeadLetter, reason);

    /// <summary>
    /// Commits this event's stream offset for its consumer group now: the group resumes after this event when it restarts. For
    /// groups with <see cref="AckMode.Manual"/>; in the other modes the group commits by itself, and committing earlier is allowed.
    /// </summary>
    /// <exception cref="InvalidOperationException">The delivery is not a consumer group's (see <see cref="CanCommit"/>), or it has
    /// ended.</exception>
    public void Commit()
    {
        if (!CanCommit)
        {
            throw new InvalidOperationException("Commit applies to deliveries of a stream consumer group; this delivery belongs to a subscription or a command queue, which acknowledge by returning.");
        }

        _settlement.EnsureCurrent(_version, "Commit");
        _settlement.Committer!.CommitFromHandler(_offsetPlusOne);
    }

    private void Settle(SettlementKind kind, string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        if (_settlement is null)
        {
            throw new InvalidOperationException("This settlement was not handed out by a delivery: read it from MessageContext.Settlement.");
        }

        _settlement.Settle(_version, kind, reason);
    }
}
