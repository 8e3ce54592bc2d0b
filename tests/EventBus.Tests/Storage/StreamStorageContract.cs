using CsCheck;

namespace EventBus.Tests.Storage;

/// <summary>
/// The contract of <see cref="IStreamStorage"/>, run against each implementation: what is appended reads back unchanged through
/// any reader at any retained offset; a read never returns another offset's record (after a trim it returns the record or
/// nothing); timestamp searches find the first event at or after a time; readers read while an appender appends and trims.
/// The bus-level half of the contract is the stream test classes that run against each storage (see <see cref="StreamStorages"/>).
/// </summary>
public abstract class StreamStorageContract
{
    private const long Epoch = 638_000_000_000_000_000;

    private static readonly Gen<Op> GenOp = Gen.Frequency(
        (6, Gen.Select(Gen.Frequency((3, Gen.Int[1, 20]), (1, Gen.Int[300, 1200])), Gen.Int[0, 2], (count, step) => (Op)new Append(count, step))),
        (3, Gen.Double[0, 1].Select(f => (Op)new Trim(f))),
        (2, Gen.Double[0, 1].Select(f => (Op)new Open(f))),
        (8, Gen.Select(Gen.Int[0, 3], Gen.Double[0, 1], Gen.Int[1, 600], (r, f, run) => (Op)new Read(r, f, run))),
        (3, Gen.Select(Gen.Double[0, 1], Gen.Double[0, 1], Gen.Double[0, 1], (a, b, t) => (Op)new Find(a, b, t))),
        (1, Gen.Int[0, 3].Select(r => (Op)new Close(r))));

    private protected abstract IStreamStorageFactory Factory { get; }

    [Fact]
    public void RandomOperations_MatchTheModel() =>
        GenOp.Array[1, 40].Sample(Run, iter: 200, print: ops => string.Join(", ", ops.Select(o => o.ToString())));

    [Fact]
    public async Task ReadersFollowAnAppenderThatTrims_EachReadIsTheRecordAppendedThereAndEveryRetainedOneIsRead()
    {
        const int Events = 200_000, Keep = 1_000;
        var streamLock = new Lock();
        var storage = Factory.Create("contract", streamLock);
        var records = Enumerable.Range(0, Events).Select(i => Record(i, Epoch + i)).ToArray();
        long head = 0, start = 0;

        IStreamStorageReader[] readers;
        lock (streamLock)
        {
            readers = [storage.OpenReader(0), storage.OpenReader(0)];
        }

        var reading = readers.Select(reader => Task.Run(() =>
        {
            long position = 0, read = 0, skipped = 0;
            var spin = new SpinWait();
            while (position < Events)
            {
                if (position >= Volatile.Read(ref head))
                {
                    spin.SpinOnce();
                    continue;
                }

                if (!reader.TryRead(position, out var record))
                {
                    var jump = Volatile.Read(ref start);
                    position.Should().BeLessThan(jump, "a read fails only below the start");
                    skipped += jump - position;
                    position = jump;
                    continue;
                }

                Same(record, records[position]).Should().BeTrue($"offset {position} reads back the record appended there");
                position++;
                read++;
            }

            return (read, skipped);
        })).ToArray();

        for (var offset = 0; offset < Events; offset++)
        {
            lock (streamLock)
            {
                storage.Append(offset, records[offset]);
                Volatile.Write(ref head, offset + 1);
                if (offset + 1 - Keep > start)
                {
                    Volatile.Write(ref start, offset + 1 - Keep);
                    storage.Trim(start);
                }
            }
        }

        foreach (var (read, skipped) in await Task.WhenAll(reading).WaitAsync(TimeSpan.FromMinutes(2)))
        {
            (read + skipped).Should().Be(Events, "every offset is read or skipped once, in order");
        }

        lock (streamLock)
        {
            foreach (var reader in readers)
            {
                reader.Close();
            }
        }
    }

    [Fact]
    public async Task ReadersFollowAnAppenderThatKeepsEverything_EveryRecordIsReadInOrder()
    {
        const int Events = 100_000;
        var streamLock = new Lock();
        var storage = Factory.Create("contract", streamLock);
        var records = Enumerable.Range(0, Events).Select(i => Record(i, Epoch + i)).ToArray();
        long head = 0;
        IStreamStorageReader reader;
        lock (streamLock)
        {
            reader = storage.OpenReader(0);
        }

        var reading = Task.Run(() =>
        {
            var spin = new SpinWait();
            for (long position = 0; position < Events;)
            {
                if (position >= Volatile.Read(ref head))
                {
                    spin.SpinOnce();
                    continue;
                }

                reader.TryRead(position, out var record).Should().BeTrue("nothing is trimmed");
                Same(record, records[position]).Should().BeTrue($"offset {position} reads back the record appended there");
                position++;
            }
        });

        for (var offset = 0; offset < Events; offset++)
        {
            lock (streamLock)
            {
                storage.Append(offset, records[offset]);
                Volatile.Write(ref head, offset + 1);
            }
        }

        await reading.WaitAsync(TimeSpan.FromMinutes(2));
    }

    private void Run(Op[] ops)
    {
        var streamLock = new Lock();
        var storage = Factory.Create("contract", streamLock);
        var appended = new List<StreamRecord>();
        var readers = new List<IStreamStorageReader>();
        long start = 0, ticks = Epoch;
        lock (streamLock)
        {
            foreach (var op in ops)
            {
                long next = appended.Count;
                switch (op)
                {
                    case Append a:
                        for (var i = 0; i < a.Count; i++)
                        {
                            ticks += a.Step;
                            var record = Record(appended.Count, ticks);
                            storage.Append(appended.Count, record);
                            appended.Add(record);
                        }

                        break;
                    case Trim t:
                        start += (long)((next - start) * t.Fraction);
                        storage.Trim(start);
                        break;
                    case Open o:
                        readers.Add(storage.OpenReader(start + (long)((next - start) * o.Fraction)));
                        break;
                    case Read r when readers.Count > 0 && next > 0:
                        var reader = readers[r.Reader % readers.Count];
                        var from = Math.Min(next - 1, (long)(next * r.Fraction));
                        for (var offset = from; offset < Math.Min(next, from + r.Run); offset++)
                        {
                            if (reader.TryRead(offset, out var read))
                            {
                                Same(read, appended[(int)offset]).Should().BeTrue($"offset {offset} reads back the record appended there");
                            }
                            else
                            {
                                offset.Should().BeLessThan(start, $"offset {offset} is retained (the start is {start})");
                            }
                        }

                        break;
                    case Find f when next > start:
                        var (a1, a2) = (start + (long)((next - start) * f.From), start + (long)((next - start) * f.To));
                        var (lo, hi) = (Math.Min(a1, a2), Math.Max(a1, a2));
                        var target = appended[(int)start].TimestampTicks + (long)((ticks - appended[(int)start].TimestampTicks + 2) * f.Time);
                        var expected = lo;
                        while (expected < hi && appended[(int)expected].TimestampTicks < target)
                        {
                            expected++;
                        }

                        storage.FindTimestamp(lo, hi, target).Should().Be(expected, $"the first offset in [{lo}, {hi}) at or after {target}");
                        if (lo < next)
                        {
                            storage.TimestampAt(lo).Should().Be(appended[(int)lo].TimestampTicks);
                        }

                        break;
                    case Close c when readers.Count > 0:
                        var closed = readers[c.Reader % readers.Count];
                        closed.Close();
                        readers.Remove(closed);
                        break;
                }
            }

            foreach (var reader in readers)
            {
                reader.Close();
            }
        }
    }

    private static StreamRecord Record(long offset, long ticks) =>
        new(offset, new MessageContext(MessageId.NewId(new DateTimeOffset(ticks, TimeSpan.Zero)), "contract", ticks, null, null));

    private static bool Same(in StreamRecord actual, in StreamRecord expected) =>
        ReferenceEquals(actual.Message, expected.Message) && actual.MessageId == expected.MessageId && actual.TimestampTicks == expected.TimestampTicks;

    private abstract record Op;

    private sealed record Append(int Count, int Step) : Op;

    private sealed record Trim(double Fraction) : Op;

    private sealed record Open(double Fraction) : Op;

    private sealed record Read(int Reader, double Fraction, int Run) : Op;

    private sealed record Find(double From, double To, double Time) : Op;

    private sealed record Close(int Reader) : Op;

    /// <summary>The contract on the in-memory storage every stream uses by default.</summary>
    public sealed class OnSegmentedStorage : StreamStorageContract
    {
        private protected override IStreamStorageFactory Factory => SegmentedStreamStorage.Factory;
    }

    /// <summary>The contract on the tests' second storage (<see cref="ListStreamStorage"/>).</summary>
    public sealed class OnListStorage : StreamStorageContract
    {
        private protected override IStreamStorageFactory Factory => ListStreamStorage.Factory;
    }
}
