using System.Threading.Channels;

namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// The partition keys of the key-ordered workload and the key-to-worker mapping its raw baseline uses. The mapping is the bus's:
/// FNV-1a over the key's characters, modulo the number of workers (see <c>StreamConsumer.KeyOrdered</c>), so that both rows hand
/// the same keys to the same workers.
/// </summary>
public static class PartitionKeys
{
    /// <summary>
    /// Picks <paramref name="perWorker"/> x <paramref name="workers"/> keys so that exactly <paramref name="perWorker"/> of them map
    /// to each worker, ordered round-robin over the workers (key <c>i</c> maps to worker <c>i % workers</c>). With events keyed
    /// <c>keys[sequence % keys.Length]</c>, consecutive events go to different workers and every worker gets the same share:
    /// a balanced load, the same in every run and for every row.
    /// </summary>
    /// <param name="workers">The number of workers.</param>
    /// <param name="perWorker">Keys per worker.</param>
    /// <returns>The keys.</returns>
    public static string[] Balanced(int workers, int perWorker)
    {
        var buckets = new List<string>[workers];
        for (var w = 0; w < workers; w++)
        {
            buckets[w] = [];
        }

        for (var candidate = 0; buckets.Any(b => b.Count < perWorker); candidate++)
        {
            var key = $"key-{candidate}";
            var bucket = buckets[WorkerOf(key, workers)];
            if (bucket.Count < perWorker)
            {
                bucket.Add(key);
            }
        }

        var keys = new string[workers * perWorker];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = buckets[i % workers][i / workers];
        }

        return keys;
    }

    /// <summary>The worker a key maps to: FNV-1a over its characters, modulo <paramref name="workers"/>.</summary>
    /// <param name="key">The partition key.</param>
    /// <param name="workers">The number of workers.</param>
    /// <returns>The worker's index.</returns>
    public static int WorkerOf(string key, int workers)
    {
        var hash = 2166136261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return (int)(hash % (uint)workers);
    }
}

/// <summary>
/// The key-ordered raw baseline: hashes the event's partition key (as the bus's dispatcher does, once per event) and writes the
/// event to that key's channel, so one key's events stay in order in one channel, read by one loop.
/// </summary>
/// <param name="writers">The channels' writers, one per worker.</param>
/// <param name="keys">The partition keys; event <c>i</c> has key <c>keys[i % keys.Length]</c>.</param>
public readonly struct KeyRoutedChannelPublisher(ChannelWriter<BenchEvent>[] writers, string[] keys) : IEventPublisher
{
    /// <inheritdoc />
    public ValueTask PublishAsync(BenchEvent @event) =>
        writers[PartitionKeys.WorkerOf(keys[@event.Sequence % keys.Length], writers.Length)].WriteAsync(@event);
}

/// <summary>The bus with a partition key: <see cref="IEventBus.PublishAsync{TEvent}(TEvent, PublishOptions?, CancellationToken)"/>.</summary>
/// <param name="bus">The bus.</param>
/// <param name="options">One cached <see cref="PublishOptions"/> per key; event <c>i</c> is published with <c>options[i % options.Length]</c>.</param>
public readonly struct KeyedBusPublisher(IEventBus bus, PublishOptions[] options) : IEventPublisher
{
    /// <inheritdoc />
    public ValueTask PublishAsync(BenchEvent @event) => bus.PublishAsync(@event, options[@event.Sequence % options.Length]);
}
