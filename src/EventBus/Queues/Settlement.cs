using System.Diagnostics;

namespace EventBus;

/// <summary>
/// How a handler settled the delivery in progress, when it did so explicitly through <see cref="MessageContext.Nack(string)"/> or
/// <see cref="MessageContext.DeadLetter(string)"/>. One instance per worker, reused for every delivery: a
/// <see cref="MessageContext"/> carries it with the version of its delivery, so a context kept past its delivery cannot settle a later one.
/// </summary>
internal sealed class Settlement
{
    private int _version;

    public int Version => _version;

    public SettlementKind Kind { get; private set; }

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

    public void Settle(int version, SettlementKind kind, string reason)
    {
        if (version != _version)
        {
            throw new InvalidOperationException("This message's delivery has already ended; Nack and DeadLetter only work while the handler is handling it.");
        }

        Debug.Assert(kind != SettlementKind.None, "Settling means nack or dead-letter.");
        Kind = kind;
        Reason = reason;
    }
}

internal enum SettlementKind
{
    None,
    Nack,
    DeadLetter,
}
