using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;

namespace EventBus;

/// <summary>
/// A reusable wake-up for one waiter (a stream reader waiting for events, a subscription's worker waiting on its ring):
/// waiting and waking allocate nothing.
/// </summary>
/// <remarks>
/// <para>Protocol: the waiter calls <see cref="BeginWait"/>, re-checks its condition, then either <see cref="WaitAsync"/> or, when the
/// condition already holds, <see cref="CancelWait"/> (and waits anyway when that returns false: a waker won the race and is
/// completing the wait); <see cref="WaitUnless"/> does either. A waker calls <see cref="Wake"/> after making the condition true. The full fences of both sides (the
/// waiter's exchange, the waker's barrier before it reads the flag) exclude a lost wake-up.</para>
/// <para>A wait can also be forwarded (<see cref="BeginForward"/>): the wake then signals a parked queue worker instead of completing
/// an await here. A subscription's idle workers use it to make a parked worker the next to wake without running it first.</para>
/// <para>Layout: a publisher reads <see cref="_waiting"/> on every publish, and the signal is allocated next to its owner, whose
/// worker writes its own fields on every event. So the flag sits in the middle of the object, a cache line away from either
/// neighbour: the publisher's read does not miss whenever the worker moves on.</para>
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
internal sealed class AsyncSignal : IValueTaskSource<bool>
{
    [FieldOffset(0)]
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    private const int Idle = 0;
    private const int Awaited = 1; // a waiter awaits WaitAsync
    private const int Forwarded = 2; // the wake signals _forward

    [FieldOffset(64)]
    private int _waiting;

    // Written before the wait starts, read by the waker only after it claimed the wait (the exchanges order the two).
    [FieldOffset(72)]
    private IdleWorkers.Parking? _forward;

#pragma warning disable CS0169, IDE0051 // Never read: it keeps the flag's cache line off the next object.
    [FieldOffset(128)]
    private readonly long _end;
#pragma warning restore CS0169, IDE0051

    public void BeginWait()
    {
        _core.Reset();
        Interlocked.Exchange(ref _waiting, Awaited);
    }

    /// <summary>Starts a wait whose wake signals <paramref name="parking"/> (with <see langword="true"/>) instead of completing <see cref="WaitAsync"/>.</summary>
    public void BeginForward(IdleWorkers.Parking parking)
    {
        _forward = parking;
        Interlocked.Exchange(ref _waiting, Forwarded);
    }

    /// <summary>Withdraws the wait; returns false when a waker already claimed it (then <see cref="WaitAsync"/> completes at once).</summary>
    public bool CancelWait() => Interlocked.CompareExchange(ref _waiting, Idle, Awaited) == Awaited;

    /// <summary>
    /// Withdraws a forwarded wait (<see cref="BeginForward"/>) that no waker claimed yet; returns false, and leaves any wait
    /// alone, when a waker claimed it (the parked worker is signalled) or the wait is not a forwarded one.
    /// </summary>
    public bool CancelForward()
    {
        if (Interlocked.CompareExchange(ref _waiting, Idle, Forwarded) == Forwarded)
        {
            _forward = null;
            return true;
        }

        return false;
    }

    public ValueTask<bool> WaitAsync() => new(this, _core.Version);

    /// <summary>
    /// Ends the re-check that follows <see cref="BeginWait"/>: when the condition already holds (<paramref name="ready"/>) and no
    /// waker claimed the wait, withdraws it and returns a completed wait; otherwise returns the wait.
    /// </summary>
    public ValueTask<bool> WaitUnless(bool ready) => ready && CancelWait() ? new(true) : WaitAsync();

    /// <summary>Wakes the waiter, if one is waiting. Call after a full fence that follows the write the waiter checks.</summary>
    public void Wake()
    {
        if (Volatile.Read(ref _waiting) == Idle)
        {
            return;
        }

        var claimed = Interlocked.Exchange(ref _waiting, Idle);
        if (claimed == Awaited)
        {
            _core.SetResult(true);
        }
        else if (claimed == Forwarded)
        {
            var forward = _forward!;
            _forward = null;
            forward.Signal(true);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
