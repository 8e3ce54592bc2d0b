using System.Collections.Concurrent;
using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Streams;

/// <summary>Key-ordered groups: one key at a time in offset order, different keys in parallel, committed = lowest incomplete offset.</summary>
public sealed class KeyOrderedTests
{
    private const int Keys = 8, PerKey = 2000, Workers = 4;

    [Fact]
    public async Task KeyOrdered_8KeysX2000Events4Workers_PerKeyOrderExactAndKeysInterleaved()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = Keys * PerKey));
        var perKey = new ConcurrentDictionary<string, List<int>>();
        var busyKeys = new ConcurrentDictionary<string, int>();
        var order = new ConcurrentQueue<string>();
        var overlaps = 0;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = 0;
        await using var group = await bus.Streams().SubscribeAsync<Reading>("keyed", async (r, context, _) =>
        {
            var key = context.PartitionKey!;
            if (busyKeys.AddOrUpdate(key, 1, (_, n) => n + 1) != 1)
            {
                Interlocked.Increment(ref overlaps); // two events of one key at the same time
            }

            order.Enqueue(key);
            if (r.Number % 97 == 0)
            {
                await Task.Yield(); // some handlers complete asynchronously
            }

            perKey.GetOrAdd(key, _ => []).Add(r.Number);
            busyKeys.AddOrUpdate(key, 0, (_, n) => n - 1);
            if (Interlocked.Increment(ref handled) == Keys * PerKey)
            {
                done.TrySetResult();
            }
        }, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.Workers = Workers;
        });

        for (var i = 0; i < Keys * PerKey; i++)
        {
            await bus.Bus.PublishAsync(new Reading(i), new PublishOptions { PartitionKey = $"key-{i % Keys}" });
        }

        await done.Task.Within();
        overlaps.Should().Be(0, "a key's events are handled one at a time");
        perKey.Keys.Should().HaveCount(Keys);
        foreach (var (key, numbers) in perKey)
        {
            var k = int.Parse(key["key-".Length..], System.Globalization.CultureInfo.InvariantCulture);
            numbers.Should().Equal(Enumerable.Range(0, PerKey).Select(n => (n * Keys) + k), $"{key}'s events are handled in offset order, each once");
        }

        order.Take(Keys * 10).Distinct().Should().HaveCountGreaterThan(1, "keys are interleaved, not handled one key after another");
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == Keys * PerKey, "the group committed everything");
    }

    [Fact]
    public async Task KeyOrdered_OneKeyBlocked_OtherKeysOnOtherWorkersFinishAndTheCommitWaitsForTheBlockedOne()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = Keys * PerKey));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var perKey = new ConcurrentDictionary<string, int>();
        var someKeyFinished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = 0;
        await using var group = await bus.Streams().SubscribeAsync<Reading>("keyed", async (r, context, _) =>
        {
            if (r.Number == 0)
            {
                await gate.Task; // key-0's first event holds its worker
            }

            if (perKey.AddOrUpdate(context.PartitionKey!, 1, (_, n) => n + 1) == PerKey)
            {
                someKeyFinished.TrySetResult();
            }

            if (Interlocked.Increment(ref handled) == Keys * PerKey)
            {
                all.TrySetResult();
            }
        }, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.Workers = Workers;
            o.Capacity = Keys * PerKey; // the window spans the whole run, so a blocked key does not stall the others
        });

        for (var i = 0; i < Keys * PerKey; i++)
        {
            await bus.Bus.PublishAsync(new Reading(i), new PublishOptions { PartitionKey = $"key-{i % Keys}" });
        }

        await someKeyFinished.Task.Within();
        group.GetSnapshot().CommittedOffset.Should().Be(0, "offset 0 is not complete, so nothing after it is committed");
        perKey.ContainsKey("key-0").Should().BeFalse();

        gate.SetResult();
        await all.Task.Within();
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == Keys * PerKey, "the group committed everything once offset 0 completed");
    }

    [Fact]
    public async Task KeyOrdered_StoppedAndResumed_NothingCommittedIsSeenAgainAndNothingIsLost()
    {
        const int Total = 4000;
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = Total));
        var seen = new ConcurrentBag<int>();
        var half = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var group = await bus.Streams().SubscribeAsync<Reading>("keyed", async (r, _, _) =>
        {
            seen.Add(r.Number);
            if (seen.Count >= Total / 2)
            {
                half.TrySetResult();
                await gate.Task; // from half-way on, every worker holds its event until the group is being stopped
            }
        }, o =>
        {
            o.StartPosition = StreamPosition.First;
            o.Workers = Workers;
            o.Capacity = Total; // publishing all of them never waits for the group held at the gate
        });
        for (var i = 0; i < Total; i++)
        {
            await bus.Bus.PublishAsync(new Reading(i), new PublishOptions { PartitionKey = $"key-{i % Keys}" });
        }

        await half.Task.Within();
        var stopping = group.DisposeAsync().AsTask();
        gate.SetResult(); // each worker finishes the event in hand and stops
        await stopping.Within();
        var committed = group.GetSnapshot().CommittedOffset;
        committed.Should().BeLessThan(Total, "the group stopped about half-way");
        var before = seen.ToHashSet();
        Enumerable.Range(0, (int)committed).Except(before).Should().BeEmpty("everything below the committed offset was handled");

        var after = new ConcurrentBag<int>();
        var rest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var resumed = await bus.Streams().SubscribeAsync<Reading>("keyed", (r, context, _) =>
        {
            after.Add(r.Number);
            if (context.Offset == Total - 1 || after.Count == Total - committed)
            {
                rest.TrySetResult();
            }

            return default;
        }, o => o.Workers = Workers);
        await rest.Task.Within();
        await Wait.UntilAsync(() => resumed.GetSnapshot().CommittedOffset == Total, "the resumed group committed everything");

        after.Should().OnlyContain(n => n >= committed, "nothing committed is read again");
        after.Should().OnlyHaveUniqueItems();
        before.Union(after).Order().Should().Equal(Enumerable.Range(0, Total), "nothing is lost");
        after.Count.Should().Be(Total - (int)committed, "the uncommitted tail is read again, once");
    }
}
