using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;

namespace EventBus;

/// <summary>
/// A unique, sortable identifier of one published message.
/// </summary>
/// <remarks>
/// The first 48 bits are the Unix time in milliseconds at which the message was published (taken from
/// the bus's <see cref="TimeProvider"/>), the next 16 bits identify the process, and the last 64 bits
/// are a per-process sequence. Identifiers therefore sort by publish time, and within one process also
/// by publish order. The value is a 16-byte struct: creating one does not allocate.
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct MessageId : IEquatable<MessageId>, IComparable<MessageId>
{
    private static readonly ushort s_node = (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1);
    private static long s_sequence = RandomNumberGenerator.GetInt32(int.MaxValue);

    private readonly ulong _high;
    private readonly ulong _low;

    private MessageId(ulong high, ulong low)
    {
        _high = high;
        _low = low;
    }

    /// <summary>Gets the empty identifier (all bits zero); never produced by <see cref="NewId(TimeProvider)"/>.</summary>
    public static MessageId Empty => default;

    /// <summary>Gets the Unix time in milliseconds that the identifier was created at.</summary>
    public long UnixTimeMilliseconds => (long)(_high >> 16);

    /// <summary>Creates a new identifier stamped with the current time of <paramref name="timeProvider"/>.</summary>
    /// <param name="timeProvider">The clock to stamp the identifier with.</param>
    /// <returns>A new identifier, greater than every identifier created before it in this process at the same or an earlier millisecond.</returns>
    public static MessageId NewId(TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(timeProvider);
        return NewId(timeProvider.GetUtcNow());
    }

    internal static MessageId NewId(DateTimeOffset timestamp)
    {
        var ms = (ulong)Math.Max(0, timestamp.ToUnixTimeMilliseconds()) & 0xFFFF_FFFF_FFFFUL;
        var sequence = (ulong)Interlocked.Increment(ref s_sequence);
        return new MessageId((ms << 16) | s_node, sequence);
    }

    /// <summary>Parses the 32-character hexadecimal form produced by <see cref="ToString"/>.</summary>
    /// <param name="value">The text to parse.</param>
    /// <returns>The identifier.</returns>
    /// <exception cref="FormatException"><paramref name="value"/> is not 32 hexadecimal characters.</exception>
    public static MessageId Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.Length != 32)
        {
            throw new FormatException($"A message id is 32 hexadecimal characters; '{value}' has {value.Length}.");
        }

        Span<byte> bytes = stackalloc byte[16];
        var status = Convert.FromHexString(value, bytes, out _, out var written);
        if (status != System.Buffers.OperationStatus.Done || written != 16)
        {
            throw new FormatException($"A message id is 32 hexadecimal characters; '{value}' is not.");
        }

        return new MessageId(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
    }

    /// <inheritdoc />
    public bool Equals(MessageId other) => _high == other._high && _low == other._low;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is MessageId other && Equals(other);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(_high, _low);

    /// <inheritdoc />
    public int CompareTo(MessageId other)
    {
        var c = _high.CompareTo(other._high);
        return c != 0 ? c : _low.CompareTo(other._low);
    }

    /// <summary>Returns the identifier as 32 lowercase hexadecimal characters, which sort like the identifiers.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => string.Create(32, this, static (span, id) =>
    {
        id._high.TryFormat(span, out _, "x16");
        id._low.TryFormat(span[16..], out _, "x16");
    });

    /// <summary>Compares two identifiers for equality.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns><see langword="true"/> when both are the same identifier.</returns>
    public static bool operator ==(MessageId left, MessageId right) => left.Equals(right);

    /// <summary>Compares two identifiers for inequality.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns><see langword="true"/> when the identifiers differ.</returns>
    public static bool operator !=(MessageId left, MessageId right) => !left.Equals(right);

    /// <summary>Orders two identifiers.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts before <paramref name="right"/>.</returns>
    public static bool operator <(MessageId left, MessageId right) => left.CompareTo(right) < 0;

    /// <summary>Orders two identifiers.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts after <paramref name="right"/>.</returns>
    public static bool operator >(MessageId left, MessageId right) => left.CompareTo(right) > 0;

    /// <summary>Orders two identifiers.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts before or equals <paramref name="right"/>.</returns>
    public static bool operator <=(MessageId left, MessageId right) => left.CompareTo(right) <= 0;

    /// <summary>Orders two identifiers.</summary>
    /// <param name="left">The first identifier.</param>
    /// <param name="right">The second identifier.</param>
    /// <returns><see langword="true"/> when <paramref name="left"/> sorts after or equals <paramref name="right"/>.</returns>
    public static bool operator >=(MessageId left, MessageId right) => left.CompareTo(right) >= 0;
}
