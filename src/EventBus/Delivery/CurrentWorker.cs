namespace EventBus;

/// <summary>
/// The subscription, key-ordered lane or consumer group whose worker runs the current flow, if any: a publish from inside a
/// handler finds it here and refuses to wait for room that only that worker can make (a deadlock).
/// </summary>
internal static class CurrentWorker
{
    private static readonly AsyncLocal<object?> s_owner = new();

    /// <summary>Gets or sets the owner of the worker running this flow (set once by each worker, at its start).</summary>
    public static object? Owner
    {
        get => s_owner.Value;
        set => s_owner.Value = value;
    }
}
