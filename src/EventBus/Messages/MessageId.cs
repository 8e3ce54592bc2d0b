using System.Buffers.Binary;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;

namespace EventBus;

/// <summary>
/// A unique, sortable identifier of one published message, laid out as an RFC 9562 UUID of version 7.
/// </summary>
/// <remarks>
/// <para>
/// The 128 bits are, from the most significant: the Unix time in milliseconds at which the message was published (48 bits,
/// taken from the bus's <see cref="TimeProvider"/>), the version 7 (4 bits), a random number chosen once per process (12 bits,
/// the UUID's <c>rand_a</c>), the RFC variant <c>10</c> (2 bits), and a per-process sequence that starts at a random value and
/// grows by one per identifier (62 bits, the UUID's <c>rand_b</c>). Identifiers therefore sort by publish time, and within one
/// process also by creation order. The value is a 16-byte struct: creating one does not allocate.
/// </para>
/// <para>
/// <see cref="ToGuid"/> and <see cref="FromGuid"/> convert to and from <see cref="Guid"/> in the RFC's (big-endian) byte
/// order, so <c>id.ToGuid().ToString()</c> equals <c>id.ToString()</c>, and a database <c>uuid</c> column or a broker header
/// takes the identifier as it is. The sequence makes consecutive identifiers of one process easy to guess: do not use one as
/// a secret.
/// </para>
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public readonly struct MessageId : IEquatable<MessageId>, IComparable<MessageId>
{
    private const ulong VersionBits = 0x7000UL;
    private const ulong VariantBits = 0x8000_0000_0000_0000UL;
    private const ulong SequenceMask = 0x3FFF_FFFF_FFFF_FFFFUL;

    // The 12-bit rand_a: tells apart processes that create identifiers in the same millisecond.
    private static readonly ulong s_node = (ulong)RandomNumberGenerator.GetInt32(1 << 12);

    // The 62-bit rand_b counter. It starts below 2^61 so that it can never outgrow its 62 bits (RFC 9562 section 6.2 seeds a
    // counter with its top bit clear for the same reason), and it is never reset, so one process's identifiers keep
    // increasing within a millisecond and when the clock steps back and forth.
    private static long s_sequence = RandomStart();

    private readonly ulong _high;
    private readonly ulong _low;

    private MessageId(ulong high, ulong low)
    {
        _high = high;
        _low = low;
    }

    /// <summary>Gets the empty identifier (all bits zero, the RFC's nil UUID); never produced by <see cref="NewId(TimeProvider)"/>.</summary>
    public static MessageId Empty => default;

    /// <summary>Gets the Unix time in milliseconds that the identifier was created at.</summary>
    /// <value>
    /// The first 48 bits of the identifier. They are a time only for a version-7 identifier, which every identifier that
    /// <see cref="NewId(TimeProvider)"/> creates is; for a UUID of another version passed to <see cref="FromGuid"/> (a random
    /// version-4 UUID, for example) the value has no meaning.
    /// </value>
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
        Debug.Assert(sequence <= SequenceMask, "The sequence starts below 2^61 and cannot reach 2^62 in any process's lifetime.");
        return new MessageId((ms << 16) | VersionBits | s_node, VariantBits | (sequence & SequenceMask));
    }

    /// <summary>Converts a <see cref="Guid"/> to an identifier, reading its bytes in the RFC's (big-endian) order.</summary>
    /// <param name="value">
    /// Any UUID: one made by <see cref="ToGuid"/>, read from a database column or a message header, or made by another
    /// system. It need not be of version 7; <see cref="UnixTimeMilliseconds"/> is meaningful only if it is.
    /// </param>
    /// <returns>The identifier whose text form equals <c>value.ToString()</c>.</returns>
    public static MessageId FromGuid(Guid value)
    {
        Span<byte> bytes = stackalloc byte[16];
        var written = value.TryWriteBytes(bytes, bigEndian: true, out _);
        Debug.Assert(written, "A Guid always fits in 16 bytes.");
        return new MessageId(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));
    }

    /// <summary>Converts the identifier to a <see cref="Guid"/> with the same bytes in the RFC's (big-endian) order.</summary>
    /// <returns>The UUID, whose <see cref="Guid.ToString()"/> equals <see cref="ToString"/> and whose <see cref="Guid.Version"/> is 7 for every identifier <see cref="NewId(TimeProvider)"/> creates.</returns>
    public Guid ToGuid()
    {
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, _high);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], _low);
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>
    /// Parses the standard 36-character UUID form that <see cref="ToString"/> produces (<c>0192e0f4-5b6c-7d21-8a3e-4f5061728394</c>),
    /// or the 32 hexadecimal digits without hyphens that earlier versions of the bus produced, in either case.
    /// </summary>
    /// <param name="value">The text to parse.</param>
    /// <returns>The identifier.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="value"/> is <see langword="null"/>.</exception>
    /// <exception cref="FormatException"><paramref name="value"/> is in neither form; the message says what was expected and what was found.</exception>
    public static MessageId Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var error = TryParseCore(value, out var id, out var index);
        if (error != ParseError.None)
        {
            ThrowHelper.ThrowMessageIdFormat(value, error, index);
        }

        return id;
    }

    /// <summary>Tries to parse the text forms that <see cref="Parse"/> accepts.</summary>
    /// <param name="value">The text to parse; may be <see langword="null"/>.</param>
    /// <param name="result">The identifier when the text is valid; otherwise <see cref="Empty"/>.</param>
    /// <returns><see langword="true"/> when <paramref name="value"/> is a valid identifier.</returns>
    public static bool TryParse([NotNullWhen(true)] string? value, out MessageId result)
    {
        if (value is null)
        {
            result = default;
            return false;
        }

        return TryParseCore(value, out result, out _) == ParseError.None;
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

    /// <summary>
    /// Returns the identifier in the standard UUID form: 36 lowercase characters, hexadecimal digits in groups of 8-4-4-4-12
    /// separated by hyphens. The strings sort (ordinally) like the identifiers.
    /// </summary>
    /// <returns>The text form, the same as <c>ToGuid().ToString()</c>.</returns>
    public override string ToString() => ToGuid().ToString();

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

    private static long RandomStart()
    {
        Span<byte> bytes = stackalloc byte[8];
        RandomNumberGenerator.Fill(bytes);
        return (long)(BinaryPrimitives.ReadUInt64LittleEndian(bytes) >> 3);
    }

    // A hand-written parser rather than Guid.TryParseExact: it accepts exactly the two forms, with no surrounding whitespace,
    // and reports where the text goes wrong, so the exception can say so.
    private static ParseError TryParseCore(ReadOnlySpan<char> text, out MessageId result, out int index)
    {
        result = default;
        index = -1;
        var hyphenated = text.Length == 36;
        if (!hyphenated && text.Length != 32)
        {
            return ParseError.Length;
        }

        ulong high = 0, low = 0;
        var digits = 0;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (hyphenated && i is 8 or 13 or 18 or 23)
            {
                if (c != '-')
                {
                    index = i;
                    return ParseError.Hyphen;
                }

                continue;
            }

            var nibble = c switch
            {
                >= '0' and <= '9' => c - '0',
                >= 'a' and <= 'f' => c - 'a' + 10,
                >= 'A' and <= 'F' => c - 'A' + 10,
                _ => -1,
            };
            if (nibble < 0)
            {
                index = i;
                return ParseError.Digit;
            }

            if (digits++ < 16)
            {
                high = (high << 4) | (uint)nibble;
            }
            else
            {
                low = (low << 4) | (uint)nibble;
            }
        }

        result = new MessageId(high, low);
        return ParseError.None;
    }

    /// <summary>Why a text is not a message id; <see cref="ThrowHelper.ThrowMessageIdFormat"/> turns it into a message.</summary>
    internal enum ParseError
    {
        /// <summary>The text is a message id.</summary>
        None,

        /// <summary>The text has neither 36 nor 32 characters.</summary>
        Length,

        /// <summary>A 36-character text lacks a hyphen where the 8-4-4-4-12 form has one.</summary>
        Hyphen,

        /// <summary>A character where a hexadecimal digit belongs is not one.</summary>
        Digit,
    }
}
