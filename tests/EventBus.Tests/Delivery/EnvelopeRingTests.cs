using FluentAssertions;
using Xunit;

namespace EventBus.Tests.Delivery;

/// <summary>The ring that buffers a subscription's envelopes: order, growth, competing readers, waiting and completion.</summary>
public sealed class EnvelopeRingTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public void TryWrite_BeyondItsLength_GrowsAndKeepsEveryEnvelopeInOrder()
    {
        var ring = new EnvelopeRing(capacity: 1024);
        ring.Length.Should().Be(64, "a ring starts small");

        // Reads between the writes move the readers' position, so the growth copies a window that does not start at zero.
        Write(ring, 0, 50);
        ReadAll(ring, 20).Should().Equal(Enumerable.Range(0, 20));
        Write(ring, 50, 300);

        ReadAll(ring, int.MaxValue).Should().Equal(Enumerable.Range(20, 330));
        ring.Length.Should().Be(512, "330 envelopes were buffered at once, and the ring doubles to the next power of two");
        ring.TryRead(out _).Should().BeFalse();
    }

    [Fact]
    public void TryWrite_AsTheReadersKeepUp_WrapsAroundWithoutGrowing()
    {
        var ring = new EnvelopeRing(capacity: 1024);
        var read = new List<int>();
        for (var i = 0; i < 1000; i++)
        {
            Write(ring, i * 10, 10);
            read.AddRange(ReadAll(ring, int.MaxValue));
        }

        read.Should().Equal(Enumerable.Range(0, 10_000));
        ring.Length.Should().Be(64);
    }

    [Fact]
    public void Create_ForASmallCapacity_StartsAtItsPowerOfTwo()
    {
        new EnvelopeRing(capacity: 5).Length.Should().Be(8);
        new EnvelopeRing(capacity: 1).Length.Should().Be(1);
    }

    [Fact]
    public async Task TryRead_FourReadersAtOnce_TakeEachEnvelopeExactlyOnceAndInOrder()
    {
        const int Count = 200_000;
        const int Readers = 4;
        var ring = new EnvelopeRing(capacity: 256);
        var writeLock = new Lock();
        using var room = new SemaphoreSlim(256); // the subscription's capacity, which bounds what the ring holds
        var taken = new List<int>[Readers];
        var total = 0;

        var readers = Enumerable.Range(0, Readers).Select(r => Task.Run(() =>
        {
            var mine = taken[r] = [];
            var spinner = default(SpinWait);
            while (Volatile.Read(ref total) < Count)
            {
                if (ring.TryRead(out var envelope))
                {
                    mine.Add((int)envelope.Message);
                    Interlocked.Increment(ref total);
                    room.Release();
                }
                else
                {
                    spinner.SpinOnce(); // yields the core to the writer now and then
                }
            }
        })).ToArray();

        var writer = Task.Run(async () =>
        {
            for (var i = 0; i < Count; i++)
            {
                (await room.WaitAsync(Timeout)).Should().BeTrue("the readers free room as they take");
                lock (writeLock)
                {
                    ring.TryWrite(new Envelope(i, default)).Should().BeTrue();
                }
            }
        });

        await Task.WhenAll([writer, .. readers]).WaitAsync(Timeout);

        taken.SelectMany(t => t).Order().Should().Equal(Enumerable.Range(0, Count), "every envelope is taken once: none lost, none twice");
        foreach (var mine in taken)
        {
            mine.Should().BeInAscendingOrder("readers claim positions in publish order");
        }

        ring.Length.Should().BeLessThanOrEqualTo(256);
    }

    [Fact]
    public async Task WaitToReadAsync_OneEnvelopeAtATime_WakesTheReaderForEachOne()
    {
        // The writer waits for each envelope to be taken, so the reader waits on an empty ring before nearly every write: a
        // lost wake-up would hang this test.
        const int Count = 20_000;
        var ring = new EnvelopeRing(capacity: 1024);
        using var takenOne = new SemaphoreSlim(0);
        var received = new List<int>();

        var reader = Task.Run(async () =>
        {
            while (await ring.WaitToReadAsync())
            {
                while (ring.TryRead(out var envelope))
                {
                    received.Add((int)envelope.Message);
                    takenOne.Release();
                }
            }
        });

        for (var i = 0; i < Count; i++)
        {
            lock (ring)
            {
                ring.TryWrite(new Envelope(i, default)).Should().BeTrue();
            }

            (await takenOne.WaitAsync(Timeout)).Should().BeTrue($"envelope {i} must wake the waiting reader");
        }

        lock (ring)
        {
            ring.Complete();
        }

        await reader.WaitAsync(Timeout);
        received.Should().Equal(Enumerable.Range(0, Count));
    }

    [Fact]
    public async Task WaitToReadAsync_WriterFasterThanTheReader_DeliversEverythingThenEnds()
    {
        const int Count = 500_000;
        var ring = new EnvelopeRing(capacity: 1024);
        using var room = new SemaphoreSlim(1024);
        long sum = 0;
        var count = 0;

        var reader = Task.Run(async () =>
        {
            while (await ring.WaitToReadAsync())
            {
                while (ring.TryRead(out var envelope))
                {
                    sum += (int)envelope.Message;
                    count++;
                    room.Release();
                }
            }
        });

        for (var i = 0; i < Count; i++)
        {
            (await room.WaitAsync(Timeout)).Should().BeTrue();
            lock (ring)
            {
                ring.TryWrite(new Envelope(i, default));
            }
        }

        lock (ring)
        {
            ring.Complete();
        }

        await reader.WaitAsync(Timeout);
        count.Should().Be(Count);
        sum.Should().Be((long)Count * (Count - 1) / 2);
    }

    [Fact]
    public async Task Complete_WithEnvelopesLeft_RefusesWritesAndLetsTheReaderDrainThemFirst()
    {
        var ring = new EnvelopeRing(capacity: 16);
        Write(ring, 0, 3);
        ring.Complete();

        ring.TryWrite(new Envelope(3, default)).Should().BeFalse("a completed ring takes no more");
        (await ring.WaitToReadAsync()).Should().BeTrue("three envelopes are left");
        ReadAll(ring, int.MaxValue).Should().Equal(0, 1, 2);
        (await ring.WaitToReadAsync()).Should().BeFalse("the ring is completed and empty");
    }

    [Fact]
    public async Task Complete_WhileTheReaderWaits_WakesItAndEndsItsLoop()
    {
        var ring = new EnvelopeRing(capacity: 16);
        var reads = 0;
        var reader = Task.Run(async () =>
        {
            while (await ring.WaitToReadAsync())
            {
                while (ring.TryRead(out _))
                {
                    reads++;
                }
            }
        });

        ring.Complete();

        await reader.WaitAsync(Timeout);
        reads.Should().Be(0);
    }

    [Fact]
    public async Task WakeOnWrite_OnAnEmptyRing_TheNextWriteSignalsTheParkedWorkerOnce()
    {
        var ring = new EnvelopeRing(capacity: 16);
        var parking = new IdleWorkers.Parking();

        ring.WakeOnWrite(parking).Should().BeTrue("nothing is buffered, so the wait is forwarded");
        var woken = parking.WaitAsync();
        woken.IsCompleted.Should().BeFalse("no write yet");

        Write(ring, 0, 2);

        (await woken.AsTask().WaitAsync(Timeout)).Should().BeTrue("the first write signals the parked worker");
        ReadAll(ring, int.MaxValue).Should().Equal(0, 1);

        // The forward is spent: a reader waiting now is woken by the next write, and the parked worker is not signalled again.
        parking.Reset();
        var wait = ring.WaitToReadAsync();
        wait.IsCompleted.Should().BeFalse();
        Write(ring, 2, 1);
        (await wait.AsTask().WaitAsync(Timeout)).Should().BeTrue();
        parking.WaitAsync().IsCompleted.Should().BeFalse("a forward wakes once");
    }

    [Fact]
    public async Task WakeOnWrite_WithOnlyTheEntryTheCallerIsAboutToTake_ForwardsTheWait()
    {
        var ring = new EnvelopeRing(capacity: 16);
        var parking = new IdleWorkers.Parking();
        Write(ring, 0, 1);

        ring.WakeOnWrite(parking).Should().BeTrue("the one entry is the caller's");
        ReadAll(ring, 1).Should().Equal(0);
        parking.WaitAsync().IsCompleted.Should().BeFalse();

        Write(ring, 1, 1);
        (await parking.WaitAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue();
    }

    [Fact]
    public async Task WakeOnWrite_WithMoreThanTheCallerTakes_ArrangesNothing()
    {
        var ring = new EnvelopeRing(capacity: 16);
        var parking = new IdleWorkers.Parking();
        Write(ring, 0, 2);

        ring.WakeOnWrite(parking).Should().BeFalse("a second entry is work for the parked worker now: the caller signals it");
        Write(ring, 2, 1);

        parking.WaitAsync().IsCompleted.Should().BeFalse("no forward was arranged");
        (await ring.WaitToReadAsync()).Should().BeTrue();
        ReadAll(ring, int.MaxValue).Should().Equal(0, 1, 2);
    }

    [Fact]
    public async Task WakeOnWrite_ThenComplete_SignalsTheParkedWorker()
    {
        var ring = new EnvelopeRing(capacity: 16);
        var parking = new IdleWorkers.Parking();
        ring.WakeOnWrite(parking).Should().BeTrue();

        ring.Complete();

        (await parking.WaitAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue("the completion wakes the next reader, which then sees it");
        (await ring.WaitToReadAsync()).Should().BeFalse();
        ring.WakeOnWrite(new IdleWorkers.Parking()).Should().BeFalse("a completed ring has no next write to wait for");
    }

    [Fact]
    public async Task CancelWakeOnWrite_BeforeAnyWrite_WithdrawsIt()
    {
        var ring = new EnvelopeRing(capacity: 16);
        var parking = new IdleWorkers.Parking();
        ring.WakeOnWrite(parking).Should().BeTrue();

        ring.CancelWakeOnWrite().Should().BeTrue("no write has used it");
        ring.CancelWakeOnWrite().Should().BeFalse("it is withdrawn already");
        Write(ring, 0, 1);

        parking.WaitAsync().IsCompleted.Should().BeFalse("the parked worker stays parked");
        (await ring.WaitToReadAsync()).Should().BeTrue();
        ReadAll(ring, int.MaxValue).Should().Equal(0);
    }

    [Fact]
    public async Task CancelWakeOnWrite_AfterTheWriteSignalledTheWorker_ReturnsFalse()
    {
        var ring = new EnvelopeRing(capacity: 16);
        var parking = new IdleWorkers.Parking();
        ring.WakeOnWrite(parking).Should().BeTrue();
        Write(ring, 0, 1);

        ring.CancelWakeOnWrite().Should().BeFalse("the write used it");
        (await parking.WaitAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue();
    }

    [Fact]
    public async Task CancelWakeOnWrite_WhileAReaderAwaits_LeavesThatWaitAlone()
    {
        var ring = new EnvelopeRing(capacity: 16);
        var wait = ring.WaitToReadAsync();

        ring.CancelWakeOnWrite().Should().BeFalse("the reader's own wait is not a forwarded one");
        Write(ring, 0, 1);

        (await wait.AsTask().WaitAsync(Timeout)).Should().BeTrue("the write still wakes the awaiting reader");
    }

    [Fact]
    public async Task CancelWakeOnWrite_RacingAWrite_EitherWithdrawsItOrTheWorkerIsSignalled()
    {
        // Each round arranges a wake, then a writer and a canceller race: exactly one wins. A cancel that wins leaves the parked
        // worker unsignalled and the entry for a reader; a write that wins signals the worker once.
        const int Rounds = 20_000;
        var ring = new EnvelopeRing(capacity: 16);
        var parking = new IdleWorkers.Parking();
        using var go = new SemaphoreSlim(0);
        using var written = new SemaphoreSlim(0);
        var writer = WriteOnCueAsync(ring, Rounds, go, written);

        var read = new List<int>(Rounds);
        for (var i = 0; i < Rounds; i++)
        {
            parking.Reset();
            ring.WakeOnWrite(parking).Should().BeTrue($"round {i}: the ring is empty");
            go.Release();
            if (ring.CancelWakeOnWrite())
            {
                (await written.WaitAsync(Timeout)).Should().BeTrue();
                parking.WaitAsync().IsCompleted.Should().BeFalse($"round {i}: a withdrawn wake is not used");
            }
            else
            {
                (await parking.WaitAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue($"round {i}: the write signals the worker");
                (await written.WaitAsync(Timeout)).Should().BeTrue();
            }

            (await ring.WaitToReadAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue();
            read.AddRange(ReadAll(ring, int.MaxValue));
        }

        await writer.WaitAsync(Timeout);
        read.Should().Equal(Enumerable.Range(0, Rounds));
    }

    [Fact]
    public async Task WakeOnWrite_RacingTheNextWrite_SignalsTheNextReaderExactlyOnce()
    {
        // Plays a subscription's idle workers on one thread: a reader woken for an entry hands the next wait to the parked worker
        // (WakeOnWrite, or a signal of its own when that arranges nothing), takes its entry, then becomes that parked worker.
        // The next write is released just before the hand-off, so it lands before, during or after it. A lost signal hangs the
        // round; a double one throws on the parking's next use.
        const int Rounds = 20_000;
        var ring = new EnvelopeRing(capacity: 16);
        var parking = new IdleWorkers.Parking();
        using var go = new SemaphoreSlim(1);
        var writer = WriteOnCueAsync(ring, Rounds, go);

        var read = new List<int>(Rounds);
        for (var i = 0; i < Rounds; i++)
        {
            (await ring.WaitToReadAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue($"round {i}: an entry is written");
            parking.Reset();
            if (i + 1 < Rounds)
            {
                go.Release();
            }

            if (!ring.WakeOnWrite(parking))
            {
                parking.Signal(true);
            }

            read.AddRange(ReadAll(ring, 1));
            if (i + 1 < Rounds)
            {
                (await parking.WaitAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue($"round {i}: the next reader is woken");
            }
        }

        await writer.WaitAsync(Timeout);
        read.Should().Equal(Enumerable.Range(0, Rounds));

        // The last hand-off is still waiting for a write: the completion signals it.
        parking.WaitAsync().IsCompleted.Should().BeFalse();
        ring.Complete();
        (await parking.WaitAsync().AsTask().WaitAsync(Timeout)).Should().BeTrue();
    }

    /// <summary>On another thread, writes envelopes 0 to <paramref name="count"/> - 1, each when <paramref name="go"/> is released, under the ring's lock (as the topic's lock would be held); releases <paramref name="written"/> after each.</summary>
    private static Task WriteOnCueAsync(EnvelopeRing ring, int count, SemaphoreSlim go, SemaphoreSlim? written = null) =>
        Task.Run(async () =>
        {
            for (var i = 0; i < count; i++)
            {
                (await go.WaitAsync(Timeout)).Should().BeTrue();
                lock (ring)
                {
                    ring.TryWrite(new Envelope(i, default)).Should().BeTrue();
                }

                written?.Release();
            }
        });

    private static void Write(EnvelopeRing ring, int first, int count)
    {
        for (var i = first; i < first + count; i++)
        {
            ring.TryWrite(new Envelope(i, default)).Should().BeTrue();
        }
    }

    private static List<int> ReadAll(EnvelopeRing ring, int max)
    {
        var read = new List<int>();
        while (read.Count < max && ring.TryRead(out var envelope))
        {
            read.Add((int)envelope.Message);
        }

        return read;
    }
}
