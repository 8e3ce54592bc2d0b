using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace EventBus;

/// <summary>The reason a command handler gave for rejecting a command. A rejection is a normal outcome, not an error.</summary>
/// <param name="Reason">A sentence a person can read, e.g. "Only 2 units of SKU-1 are in stock; 5 were ordered."</param>
/// <param name="Code">An optional machine-readable code, e.g. "insufficient-stock".</param>
public sealed record CommandRejection(string Reason, string? Code = null);

/// <summary>The outcome of a command that returns no value: accepted, or rejected with a <see cref="CommandRejection"/>.</summary>
[DebuggerDisplay("{IsAccepted ? \"Accepted\" : \"Rejected: \" + Rejection!.Reason,nq}")]
public readonly struct CommandResult
{
    private CommandResult(CommandRejection? rejection) => Rejection = rejection;

    /// <summary>Gets the accepted outcome.</summary>
    public static CommandResult Accepted => default;

    /// <summary>Gets a value indicating whether the handler accepted the command.</summary>
    [MemberNotNullWhen(false, nameof(Rejection))]
    public bool IsAccepted => Rejection is null;

    /// <summary>Gets the rejection when the command was rejected; otherwise <see langword="null"/>.</summary>
    public CommandRejection? Rejection { get; }

    /// <summary>Creates a rejection; it converts implicitly to <see cref="CommandResult"/> and to every <see cref="CommandResult{TResult}"/>.</summary>
    /// <param name="reason">A sentence a person can read.</param>
    /// <param name="code">An optional machine-readable code.</param>
    /// <returns>The rejection.</returns>
    public static CommandRejection Reject(string reason, string? code = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        return new CommandRejection(reason, code);
    }

    /// <summary>Converts a rejection to a rejected outcome.</summary>
    /// <param name="rejection">The rejection.</param>
    public static implicit operator CommandResult(CommandRejection rejection)
    {
        ArgumentNullException.ThrowIfNull(rejection);
        return new CommandResult(rejection);
    }

    /// <summary>Converts a rejection to a rejected outcome.</summary>
    /// <param name="rejection">The rejection.</param>
    /// <returns>The rejected outcome.</returns>
    public static CommandResult FromRejection(CommandRejection rejection) => rejection;

    /// <summary>Throws when the command was rejected: for a caller to whom a rejection is exceptional.</summary>
    /// <exception cref="CommandRejectedException">The handler rejected the command.</exception>
    public void ThrowIfRejected()
    {
        if (Rejection is { } rejection)
        {
            throw new CommandRejectedException(rejection);
        }
    }
}

/// <summary>The outcome of a command that returns a value: the value, or a <see cref="CommandRejection"/>.</summary>
/// <typeparam name="TResult">The type of the handler's result.</typeparam>
[DebuggerDisplay("{IsAccepted ? \"Accepted: \" + Value : \"Rejected: \" + Rejection!.Reason,nq}")]
public readonly struct CommandResult<TResult>
{
    private readonly TResult? _value;

    private CommandResult(TResult? value, CommandRejection? rejection)
    {
        _value = value;
        Rejection = rejection;
    }

    /// <summary>Gets a value indicating whether the handler accepted the command.</summary>
    [MemberNotNullWhen(false, nameof(Rejection))]
    public bool IsAccepted => Rejection is null;

    /// <summary>Gets the rejection when the command was rejected; otherwise <see langword="null"/>.</summary>
    public CommandRejection? Rejection { get; }

    /// <summary>Gets the handler's result; for a caller to whom a rejection is exceptional, reading it is the check.</summary>
    /// <exception cref="CommandRejectedException">The command was rejected; check <see cref="IsAccepted"/> first to handle it as a result.</exception>
    public TResult Value => IsAccepted ? _value! : throw new CommandRejectedException(Rejection);

    /// <summary>Creates an accepted outcome with a value.</summary>
    /// <param name="value">The result.</param>
    /// <returns>The accepted outcome.</returns>
    public static CommandResult<TResult> Accept(TResult value) => new(value, null);

    /// <summary>Converts a result value to an accepted outcome.</summary>
    /// <param name="value">The result.</param>
    public static implicit operator CommandResult<TResult>(TResult value) => new(value, null);

    /// <summary>Converts a rejection to a rejected outcome.</summary>
    /// <param name="rejection">The rejection.</param>
    public static implicit operator CommandResult<TResult>(CommandRejection rejection)
    {
        ArgumentNullException.ThrowIfNull(rejection);
        return new CommandResult<TResult>(default, rejection);
    }

    /// <summary>Converts a rejection to a rejected outcome.</summary>
    /// <param name="rejection">The rejection.</param>
    /// <returns>The rejected outcome.</returns>
    public static CommandResult<TResult> FromRejection(CommandRejection rejection) => rejection;
}
