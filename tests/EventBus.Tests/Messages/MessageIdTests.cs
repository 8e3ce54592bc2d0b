using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Messages;

/// <summary><see cref="MessageId"/>: unique, sortable by creation within the process, with a 32-hex-character text form.</summary>
public sealed class MessageIdTests
{
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
    public void ToString_ThenParse_RoundTrips()
    {
        var id = MessageId.NewId(TimeProvider.System);

        var text = id.ToString();

        text.Should().MatchRegex("^[0-9a-f]{32}$");
        MessageId.Parse(text).Should().Be(id);
        MessageId.Parse(text.ToUpperInvariant()).Should().Be(id, "parsing accepts either case");
        MessageId.Parse(MessageId.Empty.ToString()).Should().Be(MessageId.Empty);
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

        ids.Select(i => i.ToString()).Should().BeInAscendingOrder(StringComparer.Ordinal);
        ids.Should().BeInAscendingOrder();
    }

    [Theory]
    [InlineData("")]
    [InlineData("0123")]
    [InlineData("0123456789abcdef0123456789abcdef0")]
    [InlineData("0123456789abcdef0123456789abcdeg")]
    [InlineData("0123456789abcdef-123456789abcdef")]
    public void Parse_NotThirtyTwoHexCharacters_ThrowsFormatException(string text)
    {
        var parse = () => MessageId.Parse(text);

        parse.Should().Throw<FormatException>().WithMessage("*32 hexadecimal characters*");
    }

    [Fact]
    public void Parse_Null_ThrowsArgumentNullException()
    {
        var parse = () => MessageId.Parse(null!);

        parse.Should().Throw<ArgumentNullException>();
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
