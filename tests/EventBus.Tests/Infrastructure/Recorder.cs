namespace EventBus.Tests.Infrastructure;

/// <summary>
/// A thread-safe, ordered log of what handlers (or callbacks) saw, with waits for "at least n items".
/// Registered by <see cref="TestBus"/> as an open-generic singleton, so every test's container has fresh ones.
/// </summary>
/// <typeparam name="T">The item type.</typeparam>
public class Recorder<T>
{
    private readonly Lock _lock = new();
    private readonly List<T> _items = [];
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];

    /// <summary>Gets how many items were recorded.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>Gets a copy of the items in recording order.</summary>
    public IReadOnlyList<T> Items
    {
        get
        {
            lock (_lock)
            {
                return [.. _items];
            }
        }
    }

    /// <summary>Records one item and wakes the waiters it satisfies.</summary>
    public void Add(T item)
    {
        List<TaskCompletionSource>? ready = null;
        lock (_lock)
        {
            _items.Add(item);
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Count <= _items.Count)
                {
                    (ready ??= []).Add(_waiters[i].Done);
                    _waiters.RemoveAt(i);
                }
            }
        }

        ready?.ForEach(static done => done.TrySetResult());
    }

    /// <summary>Waits until at least <paramref name="count"/> items were recorded; returns a copy of them.</summary>
    public async Task<IReadOnlyList<T>> WaitForCountAsync(int count, TimeSpan? timeout = null)
    {
        Task reached;
        lock (_lock)
        {
            if (_items.Count >= count)
            {
                return [.. _items];
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            reached = done.Task;
        }

        try
        {
            await reached.WaitAsync(timeout ?? Wait.Timeout);
        }
        catch (TimeoutException)
        {
            var items = Items;
            throw new TimeoutException($"Waited for {count} recorded item(s) of {typeof(T).Name}, but only {items.Count} arrived: [{string.Join(", ", items.Take(40))}{(items.Count > 40 ? ", ..." : "")}].");
        }

        return Items;
    }
}

/// <summary>A <see cref="Recorder{T}"/> owned by one handler type, so that several handlers of a test each get their own log from DI.</summary>
/// <typeparam name="TOwner">The owning handler type (a tag only).</typeparam>
/// <typeparam name="T">The item type.</typeparam>
public sealed class Recorder<TOwner, T> : Recorder<T>;
