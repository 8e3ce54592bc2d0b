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
/// <para>Layout: a publisher reads <see cref="_waiting"/> on every publish, and the signal is allocated next to its owner, whose
/// worker writes its own fields on every event. So the flag sits in the middle of the object, a cache line away from either
/// neighbour: the publisher's read does not miss whenever the worker moves on.</para>
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
internal sealed class AsyncSignal : IValueTaskSource<bool>
{
    [FieldOffset(0)]
    private ManualResetValueTaskSourceCore<bool> _core = new() { RunContinuationsAsynchronously = true };

    [FieldOffset(64)]
    private int _waiting;

#pragma warning disable CS0169, IDE0051 // Never read: it keeps the flag's cache line off the next object.
    [FieldOffset(128)]
    private readonly long _end;
#pragma warning restore CS0169, IDE0051

    public void BeginWait()
    {
        _core.Reset();
        Interlocked.Exchange(ref _waiting, 1);
    }

    /// <summary>Withdraws the wait; returns false when a waker already claimed it (then <see cref="WaitAsync"/> completes at once).</summary>
    public bool CancelWait() => Interlocked.Exchange(ref _waiting, 0) == 1;

    public ValueTask<bool> WaitAsync() => new(this, _core.Version);

    /// <summary>
    /// Ends the re-check that follows <see cref="BeginWait"/>: when the condition already holds (<paramref name="ready"/>) and no
    /// waker claimed the wait, withdraws it and returns a completed wait; otherwise returns the wait.
    /// </summary>
    public ValueTask<bool> WaitUnless(bool ready) => ready && CancelWait() ? new(true) : WaitAsync();

    /// <summary>Wakes the waiter, if one is waiting. Call after a full fence that follows the write the waiter checks.</summary>
    public void Wake()
    {
        if (Volatile.Read(ref _waiting) == 1 && Interlocked.Exchange(ref _waiting, 0) == 1)
        {
            _core.SetResult(true);
        }
    }

    bool IValueTaskSource<bool>.GetResult(short token) => _core.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<bool>.GetStatus(short token) => _core.GetStatus(token);

    void IValueTaskSource<bool>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);
}
