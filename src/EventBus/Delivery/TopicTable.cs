using System.Collections.Concurrent;
using System.Diagnostics;

namespace EventBus;

/// <summary>
/// The topics of one bus, one per message type, created on demand by the bus's wiring. Lookup by a sealed static type is one
/// array read (<see cref="TypeSlot{T}"/>); otherwise by the runtime type in a dictionary, so that an event published as its
/// interface (<c>IDomainEvent</c>) still reaches the handlers of its concrete type.
/// </summary>
/// <remarks>
/// A topic is created under the lifecycle's lock, so that one created while the bus starts or stops is started or completed with
/// the others: the start and the stop take the same lock.
/// </remarks>
[DebuggerDisplay("{_byType.Count} topic(s)")]
internal sealed class TopicTable(BusLifecycle lifecycle, Func<Type, bool, Topic> create)
{
    private readonly ConcurrentDictionary<Type, Topic> _byType = new();
    private Topic?[] _bySlot = new Topic?[64];

    /// <summary>Gets the topics created so far.</summary>
    public ICollection<Topic> All => _byType.Values;

    /// <summary>Gets the subscriptions of every topic created so far.</summary>
    public Subscription[] Subscriptions() => [.. _byType.Values.SelectMany(t => t.Subscriptions)];

    /// <summary>Gets a value indicating whether the bus has begun to stop: every topic refuses messages from then on.</summary>
    public bool IsClosed => lifecycle.IsStopping;

    public bool Contains(Type type) => _byType.ContainsKey(type);

    /// <summary>The topic of <paramref name="message"/>'s runtime type, created on first use.</summary>
    public Topic Of<T>(T message)
    {
        // For a sealed static type the runtime type is known: one array read. Otherwise look up the runtime type.
        if (TypeSlot<T>.IsExact)
        {
            var slots = Volatile.Read(ref _bySlot);
            var index = TypeSlot<T>.Index;
            if ((uint)index < (uint)slots.Length && slots[index] is { } cached)
            {
                return cached;
            }
        }

        var type = message!.GetType();
        if (!_byType.TryGetValue(type, out var topic))
        {
            topic = GetOrCreate(type, MessageTypes.IsCommand(type));
        }

        if (TypeSlot<T>.IsExact)
        {
            CacheSlot(TypeSlot<T>.Index, topic);
        }

        return topic;
    }

    /// <summary>The topic of <paramref name="type"/>; a new one starts at once when the bus runs, and is completed when it stops.</summary>
    public Topic GetOrCreate(Type type, bool isCommand)
    {
        if (_byType.TryGetValue(type, out var existing))
        {
            return existing;
        }

        lock (lifecycle.SyncRoot)
        {
            if (_byType.TryGetValue(type, out existing))
            {
                return existing;
            }

            var topic = create(type, isCommand);
            if (lifecycle.IsRunning)
            {
                foreach (var subscription in topic.Subscriptions)
                {
                    subscription.Start();
                }
            }
            else if (lifecycle.IsStopping)
            {
                topic.Complete();
            }

            _byType[type] = topic;
            return topic;
        }
    }

    public bool TryGet(Type type, out Topic topic) => _byType.TryGetValue(type, out topic!);

    private void CacheSlot(int index, Topic topic)
    {
        lock (lifecycle.SyncRoot)
        {
            var slots = _bySlot;
            if (index >= slots.Length)
            {
                Array.Resize(ref slots, Math.Max(index + 1, slots.Length * 2));
            }

            slots[index] = topic;
            Volatile.Write(ref _bySlot, slots);
        }
    }
}
