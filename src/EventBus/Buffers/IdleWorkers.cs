using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace EventBus;

/// <summary>
/// Parks the idle workers of a competing-consumer subscription without allocating.
/// </summary>
/// <remarks>
/// <para>A subscription's buffer (<see cref="EnvelopeRing"/>) lets one reader wait at a time; a channel would allocate every
/// waiter beyond the first, and when workers keep up with a publisher every write wakes one, so that cost would be per message.
/// So at most one idle worker, the leader, waits on the buffer; the other idle workers park on their own reusable
/// <see cref="Parking"/> signal. When the leader wakes it hands the leadership to one parked worker, which then waits on the
/// buffer in turn (returning at once while messages remain), so a burst wakes as many workers as it needs, one after another.</para>
/// <para>When the buffer holds no more than the message the old leader is about to take, the new leader is not woken to start
/// its wait: the buffer's next write signals it (<see cref="EnvelopeBuffer.WakeOnWrite"/>). And a worker that finishes before
/// that write takes the leadership back (<see cref="EnvelopeBuffer.CancelWakeOnWrite"/>), so the parked worker stays parked. When the
/// workers keep up, as in a command round trip, one warm worker then takes message after message, as a single worker would;
/// waking the other worker for every message would add a thread-pool work item, and bring its state to another core, on every
/// round trip (docs/benchmarks.md, "Measured effects of design choices"). A message written while that worker is busy
/// still wakes the parked one.</para>
/// <para>Invariant, guarded by <see cref="_lock"/>: whenever workers are parked, a leader exists (the leader role is only given
/// up while no worker is parked), and it waits on the buffer, is woken to, or is the one the buffer's next write signals
/// (<see cref="_forwarded"/>). So a message written while workers are idle always wakes one, and a parked worker is always
/// reachable: no lost wake-up.</para>
/// </remarks>
internal sealed class IdleWorkers(EnvelopeBuffer buffer)
{
    private readonly Lock _lock = new();
    private readonly Stack<Parking> _parked = new();
    private Parking? _leader;
    private bool _forwarded; // the leader was parked and is to be woken by the buffer's next write (which may have come)
    private bool _closed;

    /// <summary>
    /// Starts waiting: returns <see langword="false"/> when the workers must exit; otherwise <paramref name="lead"/> says whether
    /// this worker is the leader (wait on the buffer now) or parked (await <see cref="Parking.WaitAsync"/> first; <see langword="true"/>
    /// means it was made leader, <see langword="false"/> that it must exit). The awaits happen in the worker's own loop, whose
    /// state machine lives as long as the worker, so waiting allocates nothing.
    /// </summary>
    public bool BeginWait(Parking self, out bool lead)
    {
        lock (_lock)
        {
            lead = false;
            if (_closed)
            {
                return false;
            }

            if (_leader is not null && _forwarded && buffer.CancelWakeOnWrite())
            {
                // No write has woken the parked leader: it goes back to waiting for its signal (still pending: no reset).
                _parked.Push(_leader);
                _forwarded = false;
                _leader = null;
            }

            lead = _leader is null;
            if (lead)
            {
                _leader = self;
            }
            else
            {
                self.Reset();
                _parked.Push(self);
            }

            return true;
        }
    }

    /// <summary>
    /// The leader's wait on the buffer ended, and it has not read yet: hands the leadership to a parked worker
    /// (woken now, or by the buffer's next write when the buffer holds no more than what the leader takes), or closes when the
    /// buffer is done.
    /// </summary>
    public void EndWait(Parking self, bool more)
    {
        lock (_lock)
        {
            Debug.Assert(ReferenceEquals(_leader, self), "Only the leader waits on the buffer.");
            _leader = null;
            _forwarded = false;
            if (!more)
            {
                Close();
            }
            else if (_parked.TryPop(out var next))
            {
                _leader = next;
                _forwarded = buffer.WakeOnWrite(next);
                if (!_forwarded)
                {
                    next.Signal(true);
                }
            }
        }
    }

    /// <summary>Wakes every parked worker to exit (stop or abandon).</summary>
    public void CloseAll()
    {
        lock (_lock)
        {
            Close();
        }
    }

    private void Close()
    {
        _closed = true;
        while (_parked.TryPop(out var parked))
        {
            parked.Signal(false);
        }
    }

    /// <summary>One worker's reusable wake-up signal.</summary>
    internal sealed class Parking : IValueTaskSource<bool>
    {
        private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

        public void Reset() => _core.Reset();

        public void Signal(bool result) => _core.SetResult(result);

        public ValueTask<bool> WaitAsync() => new(this, _core.Version);

        public bool GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
