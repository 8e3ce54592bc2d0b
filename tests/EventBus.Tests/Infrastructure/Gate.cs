namespace EventBus.Tests.Infrastructure;

/// <summary>A one-shot gate that handlers await (honouring the bus's cancellation token) until the test opens it.</summary>
public class Gate
{
    private readonly TaskCompletionSource _open = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Gets a value indicating whether the gate was opened.</summary>
    public bool IsOpen => _open.Task.IsCompleted;

    /// <summary>Opens the gate: every waiter, present and future, passes.</summary>
    public void Open() => _open.TrySetResult();

    /// <summary>Waits until the gate opens or <paramref name="cancellationToken"/> fires (then throws <see cref="OperationCanceledException"/>).</summary>
    public Task WaitAsync(CancellationToken cancellationToken) => _open.Task.WaitAsync(cancellationToken);
}

/// <summary>A <see cref="Gate"/> owned by one handler type, for tests with several independently gated handlers.</summary>
/// <typeparam name="TOwner">The owning handler type (a tag only).</typeparam>
public sealed class Gate<TOwner> : Gate;
