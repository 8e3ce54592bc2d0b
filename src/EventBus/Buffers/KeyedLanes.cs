using System.Diagnostics;

namespace EventBus;

/// <summary>
/// The buffer of a key-ordered subscription (<see cref="DeliveryMode.KeyOrdered"/>): one lane per worker, each an
/// <see cref="EnvelopeRing"/> that only its worker waits on and takes from (but for a stop, which reports what is left). A write puts an envelope in the lane of its partition key
/// (<see cref="PartitionKeys"/>), so the messages of one key queue up behind one another in publish order and one worker takes
/// them one at a time; envelopes without a key go round the lanes.
/// </summary>
/// <remarks>
/// <para>Why lanes and not a dispatcher in front of the workers (as a key-ordered consumer group has): the topic already writes
/// under its lock, in the topic's order, so choosing the lane there keeps each key's order with no extra hand-off per message.
/// And each lane has one waiting reader, its worker, so idle workers need no <see cref="IdleWorkers"/> protocol.</para>
/// <para>The lanes hold no count of their own: the subscription's <see cref="BufferCount"/> bounds them together, so one busy key
/// can fill the whole capacity, and a full subscription holds back every key's publishers, as a queue's does.</para>
/// </remarks>
[DebuggerDisplay("{_lanes.Length} lane(s)")]
internal sealed class KeyedLanes
{
    private readonly EnvelopeRing[] _lanes;
    private uint _nextKeyless; // the lane of the next envelope without a key; written under the topic's lock

    public KeyedLanes(int workers, int capacity)
    {
        _lanes = new EnvelopeRing[workers];

        // A ring grows when it fills, so each lane starts at its share of the capacity: a single busy key grows its lane instead
        // of every lane holding room for the whole capacity.
        var share = Math.Max(1, capacity / workers);
        for (var i = 0; i < _lanes.Length; i++)
        {
            _lanes[i] = new EnvelopeRing(share);
        }
    }

    /// <summary>Gets the lane of worker <paramref name="worker"/>.</summary>
    public EnvelopeRing this[int worker] => _lanes[worker];

    /// <summary>Appends an envelope to the lane of its key; false once the lanes are completed. The caller holds the topic's lock.</summary>
    public bool TryWrite(in Envelope envelope)
    {
        var key = envelope.PartitionKey;
        var lane = key is null ? (int)(_nextKeyless++ % (uint)_lanes.Length) : PartitionKeys.WorkerOf(key, _lanes.Length);
        return _lanes[lane].TryWrite(envelope);
    }

    /// <summary>Takes an envelope from any lane, lane by lane: for a stop that reports what no worker took.</summary>
    public bool TryRead(out Envelope envelope)
    {
        foreach (var lane in _lanes)
        {
            if (lane.TryRead(out envelope))
            {
                return true;
            }
        }

        envelope = default;
        return false;
    }

    /// <summary>Whether <paramref name="lane"/> is one of these lanes and every other lane is empty.</summary>
    public bool OnlyThisLaneHasEntries(EnvelopeRing lane)
    {
        var found = false;
        foreach (var other in _lanes)
        {
            if (ReferenceEquals(other, lane))
            {
                found = true;
            }
            else if (other.HasEntries)
            {
                return false;
            }
        }

        return found;
    }

    /// <summary>Refuses later writes and wakes every worker; what is buffered can still be read. The caller holds the topic's lock.</summary>
    public void Complete()
    {
        foreach (var lane in _lanes)
        {
            lane.Complete();
        }
    }
}
