using System.Threading.Channels;

namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// The raw <see cref="Channel{T}"/> baselines: a bounded channel with the bus's default capacity and full mode (wait), an
/// unbounded one, and reader loops that call a handler method directly. This is the floor a channel-backed bus is measured against.
/// </summary>
public static class RawChannel
{
    /// <summary>The capacity of every baseline channel: the bus's default subscription capacity.</summary>
    public const int Capacity = 1024;

    /// <summary>Creates a bounded channel configured like a bus subscription buffer.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="singleReader">Whether exactly one loop reads it.</param>
    /// <param name="capacity">The capacity; <see cref="Capacity"/> unless a workload splits one buffer's worth over several channels.</param>
    /// <returns>The channel.</returns>
    public static Channel<T> CreateBounded<T>(bool singleReader, int capacity = Capacity) =>
        Channel.CreateBounded<T>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = true,
            SingleReader = singleReader,

            // As the bus: a write never runs a reader's continuation (the handler) on the publisher's thread.
            AllowSynchronousContinuations = false,
        });

    /// <summary>Creates an unbounded channel configured like <see cref="CreateBounded{T}"/> in every other respect.</summary>
    /// <typeparam name="T">The item type.</typeparam>
    /// <param name="singleReader">Whether exactly one loop reads it.</param>
    /// <returns>The channel.</returns>
    /// <remarks>A writer never waits for room here: the fastest hand-off a channel offers, and no backpressure at all.</remarks>
    public static Channel<T> CreateUnbounded<T>(bool singleReader) =>
        Channel.CreateUnbounded<T>(new UnboundedChannelOptions
        {
            SingleWriter = true,
            SingleReader = singleReader,
            AllowSynchronousContinuations = false,
        });

    /// <summary>Starts a reader loop on the thread pool that hands every item to <paramref name="handler"/> directly.</summary>
    /// <param name="reader">The channel to drain.</param>
    /// <param name="handler">The handler to call.</param>
    /// <returns>The loop; it ends when the channel is completed.</returns>
    public static Task StartReader(ChannelReader<BenchEvent> reader, CountingEventHandler handler) =>
        Task.Run(() => ReadAsync(reader, handler));

    private static async Task ReadAsync(ChannelReader<BenchEvent> reader, CountingEventHandler handler)
    {
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var item))
            {
                await handler.HandleAsync(item, default, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }
}
