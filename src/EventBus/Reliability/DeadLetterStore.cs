using System.Diagnostics;

namespace EventBus;

/// <summary>The bounded dead-letter queue of one subscription. When full, the oldest dead letter is discarded and reported.</summary>
[DebuggerDisplay("{Count} dead letter(s), capacity {_capacity}")]
internal sealed class DeadLetterStore(int capacity)
{
    private readonly int _capacity = capacity;
    private readonly Queue<DeadLetter> _items = new();

    public int Count
    {
        get
        {
            lock (_items)
            {
                return _items.Count;
            }
        }
    }

    /// <summary>Adds a dead letter; returns the one discarded to make room, if any (or the new one itself when the capacity is 0).</summary>
    public DeadLetter? Add(DeadLetter deadLetter)
    {
        if (_capacity == 0)
        {
            return deadLetter;
        }

        lock (_items)
        {
            var discarded = _items.Count >= _capacity ? _items.Dequeue() : null;
            _items.Enqueue(deadLetter);
            return discarded;
        }
    }

    public DeadLetter[] Snapshot()
    {
        lock (_items)
        {
            return [.. _items];
        }
    }

    /// <summary>Removes and returns the dead letters that match, keeping the order of the rest.</summary>
    public List<DeadLetter> Take(Func<DeadLetter, bool>? predicate)
    {
        lock (_items)
        {
            var taken = new List<DeadLetter>();
            var count = _items.Count;
            for (var i = 0; i < count; i++)
            {
                var item = _items.Dequeue();
                if (predicate is null || predicate(item))
                {
                    taken.Add(item);
                }
                else
                {
                    _items.Enqueue(item);
                }
            }

            return taken;
        }
    }

    /// <summary>Puts back dead letters that could not be re-driven, ahead of the others.</summary>
    public void Restore(IEnumerable<DeadLetter> items)
    {
        lock (_items)
        {
            var rest = _items.ToArray();
            _items.Clear();
            foreach (var item in items.Concat(rest))
            {
                _items.Enqueue(item);
            }
        }
    }
}
