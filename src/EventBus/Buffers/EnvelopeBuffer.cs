using System.Numerics;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace EventBus;

/// <summary>
/// A subscription's buffer of envelopes, in publish order. Every write holds the topic's lock, so there is one writer at a
/// time; workers read. The subscription counts its room (<see cref="BufferCount"/>): the buffer itself refuses a write only
/// once it is completed.
/// </summary>
internal abstract class EnvelopeBuffer
{
    /// <summary>
    /// Creates a subscription's buffer: a ring (<see cref="EnvelopeRing"/>), or a channel for a batch handler, whose workers may
    /// wait on the buffer two at a time (one for its next batch, one filling a batch within its wait), and for a pull subscription,
    /// whose readers may wait any number at once, each with its own cancellation.
    /// </summary>
    public static EnvelopeBuffer Create(SubscriptionSettings settings, bool channel) =>
        channel ? new ChannelBuffer(singleReader: settings.Workers == 1 && settings.FullPolicy != FullPolicy.DropOldest) : new EnvelopeRing(settings.Capacity);

    /// <summary>Appends an envelope; false once the buffer is completed. The caller holds the topic's lock.</summary>
    public abstract bool TryWrite(in Envelope envelope);

    /// <summary>Takes the oldest envelope, if any. Any number of readers may take at once; each envelope goes to one of them.</summary>
    public abstract bool TryRead(out Envelope envelope);

    /// <summary>
    /// Waits until the buffer may hold an envelope (<see langword="true"/>: try <see cref="TryRead"/>) or is completed and empty
    /// (<see langword="false"/>). Only one reader waits at a time (the subscription's worker, or the leader of its idle workers),
    /// except on a batch handler's channel.
    /// </summary>
    public abstract ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default);

    /// <summary>Refuses later writes and wakes the waiting reader; what is buffered can still be read. The caller holds the topic's lock.</summary>
    public abstract void Complete();

    /// <summary>
    /// Gets a task that completes once the buffer is completed and everything in it was read: for readers outside the bus (a pull
    /// subscription's), whose end is the buffer's. Only the channel buffer keeps it; a ring's readers are the bus's own workers.
    /// </summary>
    public virtual Task Completion => throw new NotSupportedException("Only a channel buffer reports its completion.");

    /// <summary>
    /// Called by a reader whose wait just ended, before it reads: makes <paramref name="parking"/> the next reader to wake, so that
    /// the next write (or the completion) signals it, as a wait on the buffer would complete. Returns <see langword="false"/>,
    /// arranging nothing, when the buffer holds more than the one entry the caller is about to read, or is complete (the caller
    /// signals the worker itself then), or cannot forward a wait. Like a wait, one at a time.
    /// </summary>
    public virtual bool WakeOnWrite(IdleWorkers.Parking parking) => false;

    /// <summary>
    /// Withdraws what <see cref="WakeOnWrite"/> arranged, when no write has used it yet; returns <see langword="false"/> when one
    /// has (the worker is signalled) or nothing is arranged.
    /// </summary>
    public virtual bool CancelWakeOnWrite() => false;

    /// <summary>The buffer of a batch handler: a channel, which lets several readers wait at once and cancels a wait.</summary>
    private sealed class ChannelBuffer(bool singleReader) : EnvelopeBuffer
    {
        private readonly Channel<Envelope> _channel = Channel.CreateUnbounded<Envelope>(new UnboundedChannelOptions
        {
            SingleReader = singleReader, // a drop-oldest publish reads from the buffer too
            SingleWriter = false, // publishes, redelivery timers and re-drives write (one at a time, under the topic's lock)
            AllowSynchronousContinuations = false, // never run a handler on the publisher's thread
        });

        public override bool TryWrite(in Envelope envelope) => _channel.Writer.TryWrite(envelope);

        public override bool TryRead(out Envelope envelope) => _channel.Reader.TryRead(out envelope);

        public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _channel.Reader.WaitToReadAsync(cancellationToken);

        public override void Complete() => _channel.Writer.TryComplete();

        public override Task Completion => _channel.Reader.Completion;
    }
}

/// <summary>
/// A ring of envelopes, written in place (as the LMAX Disruptor's ring of reused entries is): one writer at a time (under the
/// topic's lock) advances the published position, readers claim positions one at a time with a compare-and-swap.
/// </summary>
/// <remarks>
/// <para>Why not a channel: a channel's queue copies each envelope into a slot that its reader then clears, and locks an object
/// on every write and every wait. Here a reader writes nothing in the entries it reads (only its position, on a cache line of
/// its own), and the writer reads that position only when it reaches the last room it saw, so each delivery moves fewer cache
/// lines between the cores (the measured effect is in docs/benchmarks.md, "Measured effects of design choices").</para>
/// <para>The ring starts small and doubles, under the topic's lock, when the writer finds it full. The subscription bounds what it
/// holds (its capacity, which a few redeliveries may exceed), so the ring stays within the next power of two of that. A reader
/// that read the old array still finds its entry there: the old array is not written again.</para>
/// <para>A read entry is not cleared: the ring keeps a reference to each of its last events (at most its length) until a later
/// write overwrites it. Clearing would make every reader write into the writer's cache lines.</para>
/// <para>Waiting: one reader at a time, through an <see cref="AsyncSignal"/>; the writer's full fence after it publishes and the
/// waiter's fence before it checks again exclude a lost wake-up.</para>
/// </remarks>
internal sealed class EnvelopeRing : EnvelopeBuffer
{
    private const int InitialLength = 64;

    private readonly Cursors _cursors = new();
    private readonly AsyncSignal _signal = new();
    private Envelope[] _entries;
    private volatile bool _completed;

    public EnvelopeRing(int capacity)
    {
        _entries = new Envelope[Math.Min(InitialLength, (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity, 1)))];
        _cursors.Limit = _entries.Length;
    }

    /// <summary>Gets the ring's length (for tests: it grows to fit what is buffered).</summary>
    internal int Length => Volatile.Read(ref _entries).Length;

    /// <summary>Gets a value indicating whether the ring holds an entry that no reader has taken yet.</summary>
    public bool HasEntries => Volatile.Read(ref _cursors.Consumed) < Volatile.Read(ref _cursors.Published);

    // The entry a woken reader is about to take is left to it: one more means another worker has work now.
    private bool HasMoreThanOne => Volatile.Read(ref _cursors.Consumed) + 1 < Volatile.Read(ref _cursors.Published);

    public override bool TryWrite(in Envelope envelope)
    {
        if (_completed)
        {
            return false;
        }

        var position = _cursors.Published;
        if (position >= _cursors.Limit)
        {
            MakeRoom(position);
        }

        var entries = _entries;
        entries[position & (entries.Length - 1)] = envelope;
        Volatile.Write(ref _cursors.Published, position + 1);

        // Orders the publish before the read of the waiting flag (see AsyncSignal).
        Interlocked.MemoryBarrier();
        _signal.Wake();
        return true;
    }

    public override bool TryRead(out Envelope envelope)
    {
        while (true)
        {
            var position = Volatile.Read(ref _cursors.Consumed);
            if (position >= Volatile.Read(ref _cursors.Published))
            {
                envelope = default;
                return false;
            }

            // Read after the published position: an array the writer replaced holds every entry published before it did.
            var entries = Volatile.Read(ref _entries);
            envelope = entries[position & (entries.Length - 1)];

            // A writer overwrites this entry only after the position moved on, and then the claim fails: a torn copy is discarded.
            if (Interlocked.CompareExchange(ref _cursors.Consumed, position + 1, position) == position)
            {
                return true;
            }
        }
    }

    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default)
    {
        if (HasEntries)
        {
            return new(true);
        }

        if (_completed)
        {
            return new(HasEntries);
        }

        // Woken by a write or by the completion (or not waiting after all): the caller tries to read, and waits again, when it
        // finds nothing, to see the completion.
        _signal.BeginWait();
        return _signal.WaitUnless(HasEntries || _completed);
    }

    public override bool WakeOnWrite(IdleWorkers.Parking parking)
    {
        if (HasMoreThanOne || _completed)
        {
            return false;
        }

        _signal.BeginForward(parking);
        return !((HasMoreThanOne || _completed) && _signal.CancelForward());
    }

    public override bool CancelWakeOnWrite() => _signal.CancelForward();

    public override void Complete()
    {
        _completed = true;
        Interlocked.MemoryBarrier();
        _signal.Wake();
    }

    /// <summary>The writer reached the last room it saw: reads the readers' position again, and doubles the ring if it is full.</summary>
    private void MakeRoom(long position)
    {
        var consumed = Volatile.Read(ref _cursors.Consumed);
        var entries = _entries;
        if (position - consumed >= entries.Length)
        {
            var larger = new Envelope[entries.Length * 2];
            for (var p = consumed; p < position; p++)
            {
                larger[p & (larger.Length - 1)] = entries[p & (entries.Length - 1)];
            }

            Volatile.Write(ref _entries, larger);
            entries = larger;
        }

        _cursors.Limit = consumed + entries.Length;
    }

    /// <summary>The positions, each on its own cache line: the writer's (published, and the room it last saw) and the readers'.</summary>
    [StructLayout(LayoutKind.Explicit)]
    private sealed class Cursors
    {
        [FieldOffset(64)]
        public long Published;

        [FieldOffset(72)]
        public long Limit; // written and read by the writer only

        [FieldOffset(192)]
        public long Consumed;

#pragma warning disable CS0169, IDE0051 // Never read: it keeps the readers' cache line off the next object.
        [FieldOffset(256)]
        private readonly long _end;
#pragma warning restore CS0169, IDE0051
    }
}
