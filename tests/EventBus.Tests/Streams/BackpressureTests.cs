using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Streams;

/// <summary>A group's backlog limit: a fast group is not slowed by a slow one until the slow one's backlog is full; then the policy applies.</summary>
public sealed class BackpressureTests
{
    private const int Capacity = 100;

    [Fact]
    public async Task TwoGroups_SlowGroupBelowItsBacklogLimit_FastGroupIsNotSlowedDown()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10_000));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fast = new GroupLog();
        var slow = new GroupLog();
        await using var fastGroup = await bus.SubscribeAsync("fast", fast, o => o.Capacity = Capacity);
        await using var slowGroup = await bus.Streams().SubscribeAsync<Reading>("slow", async (r, context, _) =>
        {
            await gate.Task;
            await slow.Record(r, context);
        }, o => o.Capacity = Capacity);

        await bus.PublishReadingsAsync(0, Capacity).Within(); // exactly the slow group's backlog limit: no publish waits
        await fast.WaitForCountAsync(Capacity);
        fast.Count.Should().Be(Capacity);
        slow.Count.Should().Be(0);

        var blocked = bus.Bus.PublishAsync(new Reading(Capacity)).AsTask();
        blocked.IsCompleted.Should().BeFalse("the slow group's backlog is full and its policy is Wait");
        gate.SetResult();
        await blocked.Within();
        await slow.WaitForCountAsync(Capacity + 1);
        await fast.WaitForCountAsync(Capacity + 1);
        slow.Offsets.Should().Equal(Enumerable.Range(0, Capacity + 1).Select(i => (long)i));
        fast.Offsets.Should().Equal(Enumerable.Range(0, Capacity + 1).Select(i => (long)i));
    }

    [Fact]
    public async Task SlowGroupFailFast_BacklogFull_PublishThrowsAndNoGroupReceivesTheEvent()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 10_000));
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var fast = new GroupLog();
        await using var fastGroup = await bus.SubscribeAsync("fast", fast, o => o.Capacity = Capacity);
        await using var slowGroup = await bus.Streams().SubscribeAsync<Reading>("slow", async (_, _, _) => await gate.Task, o =>
        {
            o.Capacity = Capacity;
            o.FullPolicy = FullPolicy.FailFast;
        });
        await bus.PublishReadingsAsync(0, Capacity);

        var publish = () => bus.Bus.PublishAsync(new Reading(Capacity)).AsTask();
        (await publish.Should().ThrowAsync<BufferFullException>()).Which.Should().Match<BufferFullException>(e => e.Subscription == "slow" && e.Capacity == Capacity);
        await fast.WaitForCountAsync(Capacity);
        bus.Streams().GetStreamInfo<Reading>().NextOffset.Should().Be(Capacity, "the rejected event was not appended");
        gate.SetResult();
    }

    [Fact]
    public async Task GroupHandlerPublishingToItsOwnFullStream_ThrowsInsteadOfDeadlocking()
    {
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 100));
        var failure = new TaskCompletionSource<Exception>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var group = await bus.Streams().SubscribeAsync<Reading>("echo", async (r, _, ct) =>
        {
            try
            {
                await bus.Bus.PublishAsync(new Reading(r.Number + 1), ct); // the group's own backlog is full: only this worker can free it
            }
            catch (Exception e)
            {
                failure.TrySetResult(e);
            }
        }, o => o.Capacity = 1);

        await bus.Bus.PublishAsync(new Reading(0));

        (await failure.Task.Within()).Should().BeOfType<InvalidOperationException>().Which.Message.Should().Contain("deadlock");
    }

    [Theory]
    [InlineData(1, 1)] // every publish waits for the commit of the previous event
    [InlineData(8, 8)] // commits come in steps as large as the backlog: the last one before the group goes idle must wake the publisher
    public async Task PublisherAlwaysAtTheBacklogLimit_EveryWaitEndsAndEveryEventArrivesInOrder(int capacity, int commitEvery)
    {
        const int Events = 20_000;
        await using var bus = await TestBus.StartAsync(b => b.AddStream<Reading>(o => o.MaxCount = 100));
        var log = new GroupLog();
        await using var group = await bus.SubscribeAsync("tight", log, o =>
        {
            o.Capacity = capacity;
            o.CommitEvery = commitEvery;
        });

        await bus.PublishReadingsAsync(0, Events).Within(); // a lost wake-up would leave a publish waiting for room it already has
        await log.WaitForCountAsync(Events);

        log.Offsets.Should().Equal(Enumerable.Range(0, Events).Select(i => (long)i));
        await Wait.UntilAsync(() => group.GetSnapshot().CommittedOffset == Events, "the group committed everything");
    }
}
