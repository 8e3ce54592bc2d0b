using CsCheck;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Messages;

/// <summary>
/// <see cref="MessageId"/>: unique, sortable by creation within the process, an RFC 9562 version-7 UUID that converts to and
/// from <see cref="Guid"/> and the standard 36-character text form, and still parses the older 32-hex-character form.
/// </summary>
public sealed class MessageIdTests
{
    private const string Expected = "A message id is 36 characters, hexadecimal digits in groups of 8-4-4-4-12 separated by hyphens*or the older form of 32 hexadecimal digits without hyphens";

    // The last millisecond a DateTimeOffset can hold (the end of year 9999), well inside the 48 bits of the timestamp.
    private static readonly long s_maxMilliseconds = DateTimeOffset.MaxValue.ToUnixTimeMilliseconds();

    private static readonly Gen<Guid> s_anyUuid = Gen.Byte.Array[16].Select(bytes => new Guid(bytes, bigEndian: true));

    [Fact]
    public async Task NewId_FourThreads_AllUniqueAndIncreasingWithinEachThread()
    {
        const int Threads = 4, PerThread = 25_000;
        using var start = new Barrier(Threads);

        var perThread = await Task.WhenAll(Enumerable.Range(0, Threads).Select(_ => Task.Factory.StartNew(
            () =>
            {
                var ids = new MessageId[PerThread];
                start.SignalAndWait();
                for (var i = 0; i < ids.Length; i++)
                {
                    ids[i] = MessageId.NewId(TimeProvider.System);
                }

                return ids;
            },
            CancellationToken.None,
            TaskCreationOptions.LongRunning, // real threads: four of them block at the barrier
            TaskScheduler.Default)));

        perThread.SelectMany(ids => ids).Distinct().Should().HaveCount(Threads * PerThread, "no identifier is produced twice");
        foreach (var ids in perThread)
        {
            var firstDecrease = Enumerable.Range(1, ids.Length - 1).FirstOrDefault(i => ids[i] <= ids[i - 1]);
            firstDecrease.Should().Be(0, "identifiers created one after the other by a thread increase");
        }
    }

    [Fact]
    public void NewId_AnyTime_IsVersion7WithTheRfcVariantAndTheTimestamp()
    {
        Gen.Long[0, s_maxMilliseconds].Sample(ms =>
        {
            var id = MessageId.NewId(new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(ms)));

            var bytes = id.ToGuid().ToByteArray(bigEndian: true);
            (bytes[6] >> 4).Should().Be(7, "the version nibble is the high half of byte 6");
            (bytes[8] >> 6).Should().Be(0b10, "the variant is the top two bits of byte 8");
            id.ToGuid().Version.Should().Be(7);
            id.UnixTimeMilliseconds.Should().Be(ms);
            id.ToString()[14].Should().Be('7', "the version is the first digit of the third group");
            id.ToString()[19].Should().BeOneOf('8', '9', 'a', 'b');
        });
    }

    [Fact]
    public void FromGuid_AnyUuid_RoundTripsThroughToGuidToStringAndParse()
    {
        s_anyUuid.Sample(guid =>
        {
            var id = MessageId.FromGuid(guid);

            id.ToGuid().Should().Be(guid);
            id.ToString().Should().Be(guid.ToString(), "the bytes are read in the RFC's order, so the text forms agree");
            MessageId.Parse(guid.ToString()).Should().Be(id);
            MessageId.Parse(guid.ToString("N")).Should().Be(id, "the older 32-digit form is the same id without hyphens");
            MessageId.TryParse(guid.ToString().ToUpperInvariant(), out var parsed).Should().BeTrue();
            parsed.Should().Be(id);
        });
    }

    [Fact]
    public void CompareTo_AnyTwoIds_OrdersLikeTheirStringsAndTheirBigEndianBytes()
    {
        Gen.Select(s_anyUuid, s_anyUuid).Sample((a, b) =>
        {
            var (left, right) = (MessageId.FromGuid(a), MessageId.FromGuid(b));

            var order = Math.Sign(left.CompareTo(right));
            Math.Sign(string.CompareOrdinal(left.ToString(), right.ToString())).Should().Be(order);
            Math.Sign(a.ToByteArray(bigEndian: true).AsSpan().SequenceCompareTo(b.ToByteArray(bigEndian: true))).Should().Be(order);
        });
    }

    [Fact]
    public void ToString_IsTheStandardUuidFormThatGuidParses()
    {
        var id = MessageId.NewId(TimeProvider.System);

        var text = id.ToString();

        text.Should().MatchRegex("^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$");
        text.Should().Be(id.ToGuid().ToString());
        Guid.Parse(text).Should().Be(id.ToGuid());
        MessageId.Parse(text).Should().Be(id);
        MessageId.Parse(text.ToUpperInvariant()).Should().Be(id, "parsing accepts either case");
        MessageId.Empty.ToString().Should().Be("00000000-0000-0000-0000-000000000000");
        MessageId.Parse(MessageId.Empty.ToString()).Should().Be(MessageId.Empty);
    }

    [Fact]
    public void FromGuid_DotNetVersion7Guid_GivesItsTimestamp()
    {
        var timestamp = new DateTimeOffset(2031, 5, 6, 7, 8, 9, 123, TimeSpan.Zero);
        var guid = Guid.CreateVersion7(timestamp);

        var id = MessageId.FromGuid(guid);

        id.UnixTimeMilliseconds.Should().Be(timestamp.ToUnixTimeMilliseconds());
        id.ToString().Should().Be(guid.ToString());
    }

    [Fact]
    public void FromGuid_Empty_IsEmpty()
    {
        MessageId.FromGuid(Guid.Empty).Should().Be(MessageId.Empty);
        MessageId.Empty.ToGuid().Should().Be(Guid.Empty);
    }

    [Fact]
    public void ToString_SortsLikeTheIdentifiers()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2030, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var ids = new List<MessageId>();
        for (var i = 0; i < 100; i++)
        {
            ids.Add(MessageId.NewId(clock));
            clock.Advance(TimeSpan.FromMilliseconds(i % 3));
        }

        ids.Should().BeInAscendingOrder();
        ids.Select(i => i.ToString()).Should().BeInAscendingOrder(StringComparer.Ordinal);
        ids.Select(i => i.ToString()).Should().OnlyHaveUniqueItems();
    }

    [Fact]
    public void Parse_LegacyThirtyTwoHexCharacters_GivesTheSameIdAsTheHyphenatedForm()
    {
        var legacy = MessageId.Parse("0192e0f45b6c7d218a3e4f5061728394");

        legacy.Should().Be(MessageId.Parse("0192e0f4-5b6c-7d21-8a3e-4f5061728394"));
        legacy.ToString().Should().Be("0192e0f4-5b6c-7d21-8a3e-4f5061728394");
    }

    [Fact]
    public void Parse_IdOfTheEarlierLayout_KeepsItsTimestampAndOrder()
    {
        // The earlier layout: 48-bit Unix milliseconds, a 16-bit node, a 64-bit sequence, written as 32 hexadecimal digits.
        var earlier = MessageId.Parse("018f2a3b4c5d" + "1234" + "000000000000002a");
        var later = MessageId.Parse("018f2a3b4c5e" + "0001" + "0000000000000001");

        earlier.UnixTimeMilliseconds.Should().Be(0x018f2a3b4c5d);
        earlier.ToString().Should().Be("018f2a3b-4c5d-1234-0000-00000000002a");
        earlier.Should().BeLessThan(later, "stored ids keep sorting by their time");
    }

    [Theory]
    [InlineData("", "'' has 0 characters.")]
    [InlineData("0123", "'0123' has 4 characters.")]
    [InlineData("0192e0f45b6c7d218a3e4f50617283940", "has 33 characters.")]
    [InlineData("0192e0f4-5b6c-7d21-8a3e-4f50617283940", "has 37 characters.")]
    [InlineData("{0192e0f4-5b6c-7d21-8a3e-4f5061728394}", "has 38 characters.")]
    [InlineData("0192e0f45b6c7d218a3e4f506172839g", "has 'g' at index 31, which is not a hexadecimal digit (0-9, a-f, A-F).")]
    [InlineData("0x92e0f45b6c7d218a3e4f5061728394", "has 'x' at index 1, which is not a hexadecimal digit*")]
    [InlineData("0192e0f45b6c7d21-a3e4f5061728394", "has '-' at index 16, which is not a hexadecimal digit*")]
    [InlineData("0192e0f45-b6c-7d21-8a3e-4f5061728394", "has '5' at index 8, where the 36-character form has a hyphen (indexes 8, 13, 18 and 23).")]
    [InlineData("0192e0f4-5b6c-7d21-8a3e_4f5061728394", "has '_' at index 23, where the 36-character form has a hyphen*")]
    [InlineData("0192e0f4-5b6c-7d21-8a3e--f5061728394", "has '-' at index 24, which is not a hexadecimal digit*")]
    [InlineData("0192e0f4-5b6c-7d21-8a3e-4f506172839 ", "has ' ' at index 35, which is not a hexadecimal digit*")]
    public void Parse_NotAMessageId_ThrowsFormatExceptionSayingWhatWasExpectedAndFound(string text, string found)
    {
        var parse = () => MessageId.Parse(text);

        parse.Should().Throw<FormatException>().WithMessage($"{Expected}*; *{found}");
        MessageId.TryParse(text, out var result).Should().BeFalse();
        result.Should().Be(MessageId.Empty);
    }

    [Fact]
    public void Parse_LongText_MessageQuotesOnlyItsStart()
    {
        var text = new string('z', 10_000);

        var parse = () => MessageId.Parse(text);

        var message = parse.Should().Throw<FormatException>().Which.Message;
        message.Should().EndWith("...' has 10000 characters.");
        message.Length.Should().BeLessThan(400, "the message quotes the start of the text, not all of it");
    }

    [Fact]
    public void Parse_Null_ThrowsArgumentNullException()
    {
        var parse = () => MessageId.Parse(null!);

        parse.Should().Throw<ArgumentNullException>().WithParameterName("value");
    }

    [Fact]
    public void TryParse_Null_ReturnsFalse()
    {
        MessageId.TryParse(null, out var result).Should().BeFalse();
        result.Should().Be(MessageId.Empty);
    }

    [Fact]
    public void NewId_StampedWithTheTimeProvidersTime()
    {
        var now = new DateTimeOffset(2031, 5, 6, 7, 8, 9, 123, TimeSpan.Zero);

        var id = MessageId.NewId(new FakeTimeProvider(now));

        id.UnixTimeMilliseconds.Should().Be(now.ToUnixTimeMilliseconds());
        id.Should().NotBe(MessageId.Empty);
    }

    [Fact]
    public void NewId_LaterMillisecond_SortsAfterEarlierOne()
    {
        var clock = new FakeTimeProvider(new DateTimeOffset(2031, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var earlier = MessageId.NewId(clock);
        clock.Advance(TimeSpan.FromMilliseconds(1));

        var later = MessageId.NewId(clock);

        (later > earlier).Should().BeTrue();
        (later >= earlier).Should().BeTrue();
        (earlier < later).Should().BeTrue();
        (earlier <= later).Should().BeTrue();
        (earlier != later).Should().BeTrue();
        later.CompareTo(earlier).Should().BePositive();
    }

    [Fact]
    public void NewId_NullTimeProvider_ThrowsArgumentNullException()
    {
        var create = () => MessageId.NewId(null!);

        create.Should().Throw<ArgumentNullException>();
    }

    [Fact]
    public void Equals_SameValue_EqualWithSameHashCode()
    {
        var id = MessageId.NewId(TimeProvider.System);
        var copy = MessageId.Parse(id.ToString());

        (copy == id).Should().BeTrue();
        copy.Equals((object)id).Should().BeTrue();
        copy.GetHashCode().Should().Be(id.GetHashCode());
        default(MessageId).Should().Be(MessageId.Empty);
    }
}
