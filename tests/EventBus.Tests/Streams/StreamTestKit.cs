using System.Collections.Concurrent;
using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Streams;

/// <summary>A stream event: its number and the key that orders it.</summary>
public sealed record Reading(int Number, string? Key = null);

/// <summary>What a group saw: every delivery's number and offset, in the order handled, and a signal per count reached.</summary>
public sealed class GroupLog
{
    private readonly ConcurrentQueue<(int Number, long Offset, string? Key)> _seen = new();
    private readonly List<(int Count, TaskCompletionSource Done)> _waiters = [];

    public IReadOnlyList<(int Number, long Offset, string? Key)> Seen => [.. _seen];

    public IReadOnlyList<long> Offsets => _seen.Select(s => s.Offset).ToList();

    public IReadOnlyList<int> Numbers => _seen.Select(s => s.Number).ToList();

    public int Count => _seen.Count;

    public ValueTask Record(Reading reading, MessageContext context)
    {
        _seen.Enqueue((reading.Number, context.Offset ?? -1, reading.Key));
        lock (_waiters)
        {
            foreach (var waiter in _waiters.Where(w => _seen.Count >= w.Count))
            {
                waiter.Done.TrySetResult();
            }
        }

        return default;
    }

    public Task WaitForCountAsync(int count)
    {
        lock (_waiters)
        {
            if (_seen.Count >= count)
            {
                return Task.CompletedTask;
            }

            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _waiters.Add((count, done));
            return done.Task.Within();
        }
    }
}

public static class StreamTestKit
{
    public static IEventStreams Streams(this TestBus bus) => bus.Services.GetRequiredService<IEventStreams>();

    public static async Task PublishReadingsAsync(this TestBus bus, int from, int count, Func<int, string?>? key = null)
    {
        for (var i = from; i < from + count; i++)
        {
            await bus.Bus.PublishAsync(new Reading(i, key?.Invoke(i)));
        }
    }

    public static ValueTask<IStreamSubscription> SubscribeAsync(this TestBus bus, string group, GroupLog log, Action<ConsumerGroupOptions>? configure = null) =>
        bus.Streams().SubscribeAsync<Reading>(group, (r, c, _) => log.Record(r, c), configure);
}
