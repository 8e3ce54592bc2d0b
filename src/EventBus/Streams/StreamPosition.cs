using System.Diagnostics;

namespace EventBus;

/// <summary>Which of its forms a <see cref="StreamPosition"/> takes.</summary>
internal enum StreamPositionKind
{
    /// <summary>The oldest retained event.</summary>
    First = 0,

    /// <summary>The newest retained event (then everything after it).</summary>
    Last = 1,

    /// <summary>The next event published: nothing retained now is read.</summary>
    Next = 2,

    /// <summary>A given offset, clamped to the retained range.</summary>
    Offset = 3,

    /// <summary>The first retained event published at or after a given time.</summary>
    Timestamp = 4,
}

/// <summary>
/// A position in a stream: <see cref="First"/>, <see cref="Last"/>, <see cref="Next"/>, <see cref="AtOffset(long)"/> or
/// <see cref="AtTimestamp(DateTimeOffset)"/>. Resolved against the stream when it is used, to the offset of the first event to read.
/// </summary>
[DebuggerDisplay("{ToString(),nq}")]
public readonly record struct StreamPosition
{
    private StreamPosition(StreamPositionKind kind, long offset, DateTimeOffset timestamp)
    {
        Kind = kind;
        Offset = offset;
        Timestamp = timestamp;
    }

    /// <summary>Gets the oldest retained event.</summary>
    public static StreamPosition First => new(StreamPositionKind.First, 0, default);

    /// <summary>Gets the newest retained event: the reader sees it and everything published after it.</summary>
    public static StreamPosition Last => new(StreamPositionKind.Last, 0, default);

    /// <summary>Gets the next event published: the reader sees only what is published from now on.</summary>
    public static StreamPosition Next => new(StreamPositionKind.Next, 0, default);

    /// <summary>Gets the offset of an <see cref="AtOffset(long)"/> position; 0 otherwise.</summary>
    public long Offset { get; }

    /// <summary>Gets the time of an <see cref="AtTimestamp(DateTimeOffset)"/> position; default otherwise.</summary>
    public DateTimeOffset Timestamp { get; }

    internal StreamPositionKind Kind { get; }

    /// <summary>A given offset. Below the oldest retained event it means the oldest; beyond the head, the next event published.</summary>
    /// <param name="offset">The offset, 0 or more.</param>
    /// <returns>The position.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="offset"/> is negative.</exception>
    public static StreamPosition AtOffset(long offset)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        return new(StreamPositionKind.Offset, offset, default);
    }

    /// <summary>The first retained event published at or after <paramref name="timestamp"/> (the next event published if none was).</summary>
    /// <param name="timestamp">The time, compared with <see cref="MessageContext.Timestamp"/>.</param>
    /// <returns>The position.</returns>
    public static StreamPosition AtTimestamp(DateTimeOffset timestamp) => new(StreamPositionKind.Timestamp, 0, timestamp);

    /// <inheritdoc/>
    public override string ToString() => Kind switch
    {
        StreamPositionKind.Offset => $"Offset({Offset})",
        StreamPositionKind.Timestamp => $"Timestamp({Timestamp:O})",
        _ => Kind.ToString(),
    };
}
