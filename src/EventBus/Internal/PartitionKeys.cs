namespace EventBus;

/// <summary>
/// Maps partition keys to workers, for every key-ordered consumer: one mapping, so that every consumer with the same number of
/// workers puts a key on the same worker index, in every run.
/// </summary>
internal static class PartitionKeys
{
    /// <summary>The worker, from 0 to <paramref name="workers"/> - 1, that handles the messages of <paramref name="key"/>.</summary>
    public static int WorkerOf(string key, int workers) => (int)(StableHash(key) % (uint)workers);

    /// <summary>FNV-1a over the key's characters: the same key maps to the same worker in every run (string hashes are randomized per process).</summary>
    public static uint StableHash(string key)
    {
        var hash = 2166136261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}
