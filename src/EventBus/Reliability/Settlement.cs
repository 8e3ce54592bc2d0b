using System.Diagnostics;

namespace EventBus;

/// <summary>
/// How a handler settled the delivery in progress, when it did so explicitly through <see cref="MessageSettlement.Nack(string)"/> or
/// <see cref="MessageSettlement.DeadLetter(string)"/>. One instance per worker, reused for every delivery: a
/// <see cref="MessageContext"/> carries it with the version of its delivery, so a context kept past its delivery cannot settle a later one.
/// </summary>
internal sealed class Settlement
{
    private int _version;

    public int Version => _version;

    public SettlementKind Kind { get; private set; }

    /// <summary>Gets or sets the consumer group whose deliveries this settlement tracks, for <see cref="MessageSettlement.Commit"/>; null for subscriptions.</summary>
    public IStreamCommitter? Committer { get; init; }

    public string? Reason { get; private set; }

    /// <summary>Starts a new delivery; returns its version.</summary>
    public int Begin()
    {
        Kind = SettlementKind.None;
        Reason = null;
        return ++_version;
    }

    /// <summary>Ends the delivery: later calls through its contexts throw. Returns how the handler settled it.</summary>
    public SettlementKind End()
    {
        _version++;
        return Kind;
    }

    /// <summary>Ends a delivery whose handler returned: null when it succeeded, otherwise how the handler settled it (nack or dead-letter).</summary>
    public AttemptFailure? Complete()
    {
        var reason = Reason;
        var kind = End();
        return kind == SettlementKind.None ? null : new AttemptFailure(null, kind, reason);
    }

    /// <summary>Ends a delivery whose handler threw (or was abandoned): the attempt failed with <paramref name="exception"/>.</summary>
    public AttemptFailure Fail(Exception exception)
    {
        End();
        return new AttemptFailure(exception, SettlementKind.None, null);
    }

    /// <summary>Awaits a handler's attempt and ends its delivery: null when it succeeded.</summary>
    public async ValueTask<AttemptFailure?> ObserveAsync(ValueTask pending)
    {
        try
        {
            await pending.ConfigureAwait(false);
        }
        catch (Exception e)
        {
            return Fail(e);
        }

        return Complete();
    }

    /// <summary>
    /// Whether the delivery of <paramref name="version"/> will not be acknowledged as handled: its handler nacked or dead-lettered it,
    /// or the bus already ended it (a handler abandoned after its timeout, whose worker may have begun another delivery since).
    /// </summary>
    /// <remarks>Read by middleware on the handler's flow, before the worker ends the delivery; only an abandoned handler reads it
    /// after, hence the volatile read of the version.</remarks>
    public bool IsFailed(int version) => Volatile.Read(ref _version) != version || Kind != SettlementKind.None;

    public void EnsureCurrent(int version, string operation)
    {
        if (version != _version)
        {
            throw new InvalidOperationException($"This message's delivery has already ended; {operation} only works while the handler is handling it.");
        }
    }

    public void Settle(int version, SettlementKind kind, string reason)
    {
        EnsureCurrent(version, "Nack and DeadLetter");

        Debug.Assert(kind != SettlementKind.None, "Settling means nack or dead-letter.");
        Kind = kind;
        Reason = reason;
    }
}

/// <summary>Why one attempt failed: the handler's exception, or how it settled the delivery (with its reason).</summary>
internal sealed record AttemptFailure(Exception? Exception, SettlementKind Kind, string? Reason);

/// <summary>A consumer group that lets its handler commit the offset of the event it is handling.</summary>
internal interface IStreamCommitter
{
    /// <summary>Commits <paramref name="nextOffset"/> (the offset after the event being handled).</summary>
    void CommitFromHandler(long nextOffset);
}

internal enum SettlementKind
{
    None,
    Nack,
    DeadLetter,
}
