using EventBus.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace EventBus.Tests.Queues;

public sealed class IdempotencyTests
{
    [Fact]
    public async Task UseIdempotency_SameMessageIdTwice_EachSubscriptionHandlesItOnceUntilTheWindowPasses()
    {
        var time = new FakeTimeProvider();
        await using var bus = await TestBus.StartAsync(
            b => b.UseIdempotency(o => o.Window = TimeSpan.FromMinutes(1))
                .AddEventHandler<Job, JobHandler>()
                .AddEventHandler<Job, SecondHandler>(),
            s => s.AddSingleton<TimeProvider>(time));
        var id = MessageId.NewId(time);
        var replay = new PublishOptions { MessageId = id };

        await bus.Bus.PublishAsync(new Job(5, "ok"), replay);
        await bus.Bus.PublishAsync(new Job(5, "ok"), replay);
        await bus.Bus.PublishAsync(new Job(6, "ok"));
        await bus.WaitUntilIdleAsync();

        bus.Log<JobHandler, (int N, string Behaviour)>().Items.Should().Equal((5, "ok"), (6, "ok"));
        bus.Log<SecondHandler, MessageId>().Items.Should().HaveCount(2).And.Contain(id);

        time.Advance(TimeSpan.FromMinutes(1) + TimeSpan.FromTicks(1));
        await bus.Bus.PublishAsync(new Job(5, "ok"), replay);
        await bus.Log<SecondHandler, MessageId>().WaitForCountAsync(3);
        await bus.WaitUntilIdleAsync();
        bus.Log<JobHandler, (int N, string Behaviour)>().Items.Should().Equal((5, "ok"), (6, "ok"), (5, "ok"));
    }

    [Fact]
    public async Task UseIdempotency_ConcurrentCopiesOnFourWorkers_EachIdHandledExactlyOnce()
    {
        const int pairs = 1_000;
        var logged = new List<string>();
        await using var bus = await TestBus.StartAsync(
            b => b.UseIdempotency()
                .AddEventHandler<Job, JobHandler>()
                .ConfigureSubscription<JobHandler>(o =>
                {
                    o.Mode = DeliveryMode.Queue;
                    o.Workers = 4;
                }),
            s => s.AddLogging(l => l.AddProvider(new ListLoggerProvider(logged)).SetMinimumLevel(LogLevel.Debug)));

        // Each pair is published at once from two tasks, so its two copies reach two idle workers side by side.
        for (var n = 0; n < pairs; n++)
        {
            var job = new Job(n, "work");
            var options = new PublishOptions { MessageId = MessageId.NewId(TimeProvider.System) };
            await Task.WhenAll(Task.Run(() => PublishAsync(job, options)), Task.Run(() => PublishAsync(job, options)));
        }

        await bus.Log<JobHandler, (int N, string Behaviour)>().WaitForCountAsync(pairs);
        await bus.WaitUntilIdleAsync();

        var handled = bus.Log<JobHandler, (int N, string Behaviour)>().Items;
        handled.Should().HaveCount(pairs);
        handled.Select(h => h.N).Should().OnlyHaveUniqueItems().And.BeEquivalentTo(Enumerable.Range(0, pairs));
        SkippedCount(logged).Should().Be(pairs);
        bus.Snapshot<JobHandler>().Succeeded.Should().Be(2 * pairs);

        Task PublishAsync(Job job, PublishOptions options) => bus.Bus.PublishAsync(job, options).AsTask();
    }

    [Fact]
    public async Task UseIdempotency_CopyArrivesWhileTheFirstIsHandled_WaitsThenIsSkipped()
    {
        var logged = new List<string>();
        await using var bus = await StartObservedAsync(s => s.AddLogging(l => l.AddProvider(new ListLoggerProvider(logged)).SetMinimumLevel(LogLevel.Debug)));
        using var openAtEnd = new OpenOnDispose(bus.Get<Gate>());
        var store = bus.Get<ObservedStore>();
        var id = MessageId.NewId(TimeProvider.System);

        await bus.Bus.PublishAsync(new Job(1, "gate"), new PublishOptions { MessageId = id });
        await bus.Log<JobHandler, (int N, string Behaviour, int DeliveryCount)>().WaitForCountAsync(1);
        await bus.Bus.PublishAsync(new Job(1, "ok"), new PublishOptions { MessageId = id });
        await store.Waiting.WaitForCountAsync(1);

        bus.Get<Gate>().Open();
        await store.Answers.WaitForCountAsync(2);
        await bus.WaitUntilIdleAsync();

        bus.Log<JobHandler, (int N, string Behaviour)>().Items.Should().Equal((1, "gate"));
        store.Answers.Items.Should().Equal((id, true), (id, false));
        store.Ended.Items.Should().Equal((id, true));
        SkippedCount(logged).Should().Be(1);
    }

    [Fact]
    public async Task UseIdempotency_FirstCopyFailsWhileTheSecondWaits_SecondRunsAndIsRemembered()
    {
        await using var bus = await StartObservedAsync();
        using var openAtEnd = new OpenOnDispose(bus.Get<Gate>());
        var store = bus.Get<ObservedStore>();
        var id = MessageId.NewId(TimeProvider.System);

        await bus.Bus.PublishAsync(new Job(1, "gate-then-throw"), new PublishOptions { MessageId = id });
        await bus.Log<JobHandler, (int N, string Behaviour, int DeliveryCount)>().WaitForCountAsync(1);
        await bus.Bus.PublishAsync(new Job(1, "ok"), new PublishOptions { MessageId = id });
        await store.Waiting.WaitForCountAsync(1);

        bus.Get<Gate>().Open();
        await bus.Log<JobHandler, (int N, string Behaviour)>().WaitForCountAsync(1);
        await bus.Undelivered.WaitForCountAsync(1);
        await bus.Bus.PublishAsync(new Job(1, "ok"), new PublishOptions { MessageId = id });
        await store.Answers.WaitForCountAsync(3);
        await bus.WaitUntilIdleAsync();

        bus.Log<JobHandler, (int N, string Behaviour)>().Items.Should().Equal((1, "ok"));
        bus.Get<IDeadLetterQueue>().GetDeadLetters().Single().ExceptionType.Should().Be(typeof(InvalidOperationException).FullName);
        store.Answers.Items.Should().Equal((id, true), (id, true), (id, false));
        store.Ended.Items.Should().Equal((id, false), (id, true));
    }

    [Fact]
    public async Task UseIdempotency_HandlerNacks_IdNotRememberedAndTheRedeliveryRuns()
    {
        await using var bus = await TestBus.StartAsync(b => b
            .UseIdempotency()
            .AddEventHandler<Job, JobHandler>()
            .ConfigureSubscription<JobHandler>(o => o.Redelivery = new RedeliveryOptions { MaxDeliveries = 2, ImmediateRetries = 1 }));
        var replay = new PublishOptions { MessageId = MessageId.NewId(TimeProvider.System) };

        await bus.Bus.PublishAsync(new Job(1, "nack-first"), replay);
        await bus.WaitUntilIdleAsync();
        await bus.Bus.PublishAsync(new Job(1, "nack-first"), replay);
        await bus.WaitUntilIdleAsync();

        bus.Log<JobHandler, (int N, string Behaviour, int DeliveryCount)>().Items.Select(s => s.DeliveryCount).Should().Equal(1, 2);
        bus.Log<JobHandler, (int N, string Behaviour)>().Items.Should().Equal((1, "nack-first"));
        bus.Get<IDeadLetterQueue>().Count.Should().Be(0);
        bus.Undelivered.Count.Should().Be(0);
    }

    [Fact]
    public async Task UseIdempotency_HandlerDeadLetters_IdNotRememberedAndTheRedriveRuns()
    {
        await using var bus = await TestBus.StartAsync(b => b.UseIdempotency().AddEventHandler<Job, JobHandler>());
        var replay = new PublishOptions { MessageId = MessageId.NewId(TimeProvider.System) };

        await bus.Bus.PublishAsync(new Job(1, "dead-letter-first"), replay);
        await bus.Undelivered.WaitForCountAsync(1);
        await bus.WaitUntilIdleAsync();
        (await bus.Get<IDeadLetterQueue>().RedriveAsync()).Should().Be(1);
        await bus.Log<JobHandler, (int N, string Behaviour)>().WaitForCountAsync(1);
        await bus.WaitUntilIdleAsync();

        bus.Log<JobHandler, (int N, string Behaviour, int DeliveryCount)>().Items.Should().HaveCount(2);
        bus.Log<JobHandler, (int N, string Behaviour)>().Items.Should().Equal((1, "dead-letter-first"));
        bus.Get<IDeadLetterQueue>().Count.Should().Be(0);
    }

    [Fact]
    public async Task UseIdempotency_WaitingCopyReachesItsHandlerTimeout_WaitCancelledAndTheFirstCopyStillCounts()
    {
        var time = new FakeTimeProvider();
        await using var bus = await StartObservedAsync(
            s => s.AddSingleton<TimeProvider>(time),
            time,
            o => o.HandlerTimeout = TimeSpan.FromSeconds(5),
            b => b.Configure(o => o.HandlerTimeoutGracePeriod = TimeSpan.FromHours(1)));
        using var openAtEnd = new OpenOnDispose(bus.Get<Gate>());
        var store = bus.Get<ObservedStore>();
        var id = MessageId.NewId(time);

        // The first copy ignores its token (so it outlives the timeout within the grace period); the second waits for it.
        await bus.Bus.PublishAsync(new Job(1, "gate-ignoring-cancellation"), new PublishOptions { MessageId = id });
        await bus.Log<JobHandler, (int N, string Behaviour, int DeliveryCount)>().WaitForCountAsync(1);
        await bus.Bus.PublishAsync(new Job(1, "ok"), new PublishOptions { MessageId = id });
        await store.Waiting.WaitForCountAsync(1);

        time.Advance(TimeSpan.FromSeconds(5));
        await bus.Undelivered.WaitForCountAsync(1);

        var deadLetter = bus.Get<IDeadLetterQueue>().GetDeadLetters().Single();
        ((Job)deadLetter.Message).Behaviour.Should().Be("ok");
        deadLetter.ExceptionType.Should().Be(typeof(TimeoutException).FullName);
        store.Answers.Items.Should().Equal((id, true));

        bus.Get<Gate>().Open();
        await store.Ended.WaitForCountAsync(1);
        await bus.Bus.PublishAsync(new Job(1, "ok"), new PublishOptions { MessageId = id });
        await store.Answers.WaitForCountAsync(2);
        await bus.WaitUntilIdleAsync();

        bus.Log<JobHandler, (int N, string Behaviour)>().Items.Should().Equal((1, "gate-ignoring-cancellation"));
        store.Answers.Items.Should().Equal((id, true), (id, false));
        store.Ended.Items.Should().Equal((id, true));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task UseIdempotency_CustomStoreRegistered_UsedInsteadOfTheDefault(bool registeredFirst)
    {
        var known = MessageId.NewId(TimeProvider.System);
        var fresh = MessageId.NewId(TimeProvider.System);
        var custom = new FixedStore(known);
        await using var bus = await TestBus.StartAsync(
            b =>
            {
                b.UseIdempotency().AddEventHandler<Job, JobHandler>();
                if (!registeredFirst)
                {
                    b.Services.AddSingleton<IIdempotencyStore>(custom);
                }
            },
            s =>
            {
                if (registeredFirst)
                {
                    s.AddSingleton<IIdempotencyStore>(custom);
                }
            });

        await bus.Bus.PublishAsync(new Job(1, "ok"), new PublishOptions { MessageId = known });
        await bus.Bus.PublishAsync(new Job(2, "ok"), new PublishOptions { MessageId = fresh });
        await bus.Log<JobHandler, (int N, string Behaviour)>().WaitForCountAsync(1);
        await bus.WaitUntilIdleAsync();

        bus.Get<IIdempotencyStore>().Should().BeSameAs(custom);
        bus.Log<JobHandler, (int N, string Behaviour)>().Items.Should().Equal((2, "ok"));
        var subscription = typeof(JobHandler).FullName!;
        custom.Begun.Items.Should().Equal((subscription, known), (subscription, fresh));
        custom.Ended.Items.Should().Equal((subscription, fresh, true));
    }

    [Fact]
    public async Task UseIdempotency_WindowPassesWhileACopyWaits_CopySkippedAndTheWindowCountsFromTheEnd()
    {
        var time = new FakeTimeProvider();
        await using var bus = await StartObservedAsync(s => s.AddSingleton<TimeProvider>(time), time);
        using var openAtEnd = new OpenOnDispose(bus.Get<Gate>());
        var store = bus.Get<ObservedStore>();
        var handled = bus.Log<JobHandler, (int N, string Behaviour)>();
        var id = MessageId.NewId(time);

        await bus.Bus.PublishAsync(new Job(1, "gate"), new PublishOptions { MessageId = id });
        await bus.Log<JobHandler, (int N, string Behaviour, int DeliveryCount)>().WaitForCountAsync(1);
        await bus.Bus.PublishAsync(new Job(2, "ok"), new PublishOptions { MessageId = id });
        await store.Waiting.WaitForCountAsync(1);
        time.Advance(TimeSpan.FromMinutes(2)); // past the window, counted from the first copy's start
        bus.Get<Gate>().Open();
        await store.Answers.WaitForCountAsync(2);

        time.Advance(TimeSpan.FromSeconds(59));
        await bus.Bus.PublishAsync(new Job(3, "ok"), new PublishOptions { MessageId = id });
        await store.Answers.WaitForCountAsync(3);
        time.Advance(TimeSpan.FromSeconds(1));
        await bus.Bus.PublishAsync(new Job(4, "ok"), new PublishOptions { MessageId = id });
        await handled.WaitForCountAsync(2);
        await bus.WaitUntilIdleAsync();

        handled.Items.Should().Equal((1, "gate"), (4, "ok"));
        store.Answers.Items.Should().Equal((id, true), (id, false), (id, false), (id, true));
    }

    [Fact]
    public async Task UseIdempotency_PastMaxEntries_OldestHandledIdsForgottenButAClaimInProgressKept()
    {
        await using var bus = await StartObservedAsync(configureIdempotency: o => o.MaxEntries = 2);
        using var openAtEnd = new OpenOnDispose(bus.Get<Gate>());
        var store = bus.Get<ObservedStore>();
        var handled = bus.Log<JobHandler, (int N, string Behaviour)>();
        var ids = Enumerable.Range(0, 4).Select(_ => MessageId.NewId(TimeProvider.System)).ToArray();
        var (a, b, c, d) = (ids[0], ids[1], ids[2], ids[3]);

        await bus.Bus.PublishAsync(new Job(1, "gate"), new PublishOptions { MessageId = a });
        await bus.Log<JobHandler, (int N, string Behaviour, int DeliveryCount)>().WaitForCountAsync(1);
        await PublishAndWaitAsync(2, b, handledCount: 1);
        await PublishAndWaitAsync(3, c, handledCount: 2);
        await PublishAndWaitAsync(4, d, handledCount: 3); // remembers c and d: b is the oldest past the bound
        await bus.Bus.PublishAsync(new Job(5, "ok"), new PublishOptions { MessageId = a });
        await store.Waiting.WaitForCountAsync(1); // a's claim is still held, although b was evicted past the bound
        bus.Get<Gate>().Open();
        await store.Answers.WaitForCountAsync(5); // a handled once: now d and a are remembered, c is forgotten

        await PublishAndWaitAsync(6, b, handledCount: 5);
        await bus.Bus.PublishAsync(new Job(7, "ok"), new PublishOptions { MessageId = a });
        await store.Answers.WaitForCountAsync(7);
        await bus.WaitUntilIdleAsync();

        handled.Items.Should().Equal((2, "ok"), (3, "ok"), (4, "ok"), (1, "gate"), (6, "ok"));
        store.Answers.Items.Should().Equal((a, true), (b, true), (c, true), (d, true), (a, false), (b, true), (a, false));

        async Task PublishAndWaitAsync(int n, MessageId id, int handledCount)
        {
            await bus.Bus.PublishAsync(new Job(n, "ok"), new PublishOptions { MessageId = id });
            await handled.WaitForCountAsync(handledCount);
        }
    }

    [Fact]
    public async Task UseIdempotency_InvalidOptions_StartFailsNamingTheOptionAndItsValue()
    {
        var act = async () => await TestBus.StartAsync(b => b
            .UseIdempotency(o =>
            {
                o.Window = TimeSpan.Zero;
                o.MaxEntries = 0;
            })
            .AddEventHandler<Job, JobHandler>());

        (await act.Should().ThrowAsync<OptionsValidationException>())
            .Which.Failures.Should().Equal(
                "IdempotencyOptions.Window must be between 00:00:01 and 7.00:00:00; it is 00:00:00.",
                "IdempotencyOptions.MaxEntries must be between 1 and 10000000; it is 0.");
    }

    [Fact]
    public async Task TryBeginAsync_WaiterCancelled_ThrowsAndTheOtherWaiterGetsTheOutcome()
    {
        var store = new InMemoryIdempotencyStore(new IdempotencyOptions(), new FakeTimeProvider());
        var id = MessageId.NewId(TimeProvider.System);
        (await store.TryBeginAsync("s", id, CancellationToken.None)).Should().BeTrue();
        using var cancel = new CancellationTokenSource();

        var cancelled = store.TryBeginAsync("s", id, cancel.Token).AsTask();
        var waiting = store.TryBeginAsync("s", id, CancellationToken.None).AsTask();
        cancel.Cancel();

        var cancelledWait = () => cancelled.Within();
        await cancelledWait.Should().ThrowAsync<OperationCanceledException>();
        waiting.IsCompleted.Should().BeFalse();
        await store.EndAsync("s", id, handled: false, CancellationToken.None);
        (await waiting.Within()).Should().BeTrue(); // released: the remaining waiter owns the next handling
        (await store.TryBeginAsync("other subscription", id, CancellationToken.None)).Should().BeTrue();
        await store.EndAsync("s", id, handled: true, CancellationToken.None);
        (await store.TryBeginAsync("s", id, CancellationToken.None)).Should().BeFalse();
    }

    private static int SkippedCount(List<string> logged)
    {
        lock (logged)
        {
            return logged.Count(m => m.Contains("DuplicateSkipped", StringComparison.Ordinal));
        }
    }

    /// <summary>A queue subscription with two workers whose idempotency store is the default one wrapped in an <see cref="ObservedStore"/>.</summary>
    private static Task<TestBus> StartObservedAsync(
        Action<IServiceCollection>? services = null,
        TimeProvider? time = null,
        Action<SubscriptionOptions>? configureSubscription = null,
        Action<EventBusBuilder>? configureBus = null,
        Action<IdempotencyOptions>? configureIdempotency = null) =>
        TestBus.StartAsync(
            b =>
            {
                b.UseIdempotency(o =>
                    {
                        o.Window = TimeSpan.FromMinutes(1);
                        configureIdempotency?.Invoke(o);
                    })
                    .AddEventHandler<Job, JobHandler>()
                    .ConfigureSubscription<JobHandler>(o =>
                    {
                        o.Mode = DeliveryMode.Queue;
                        o.Workers = 2;
                        configureSubscription?.Invoke(o);
                    });
                configureBus?.Invoke(b);
            },
            s =>
            {
                services?.Invoke(s);
                s.AddSingleton(sp => new ObservedStore(new InMemoryIdempotencyStore(sp.GetRequiredService<IdempotencyOptions>(), time)));
                s.AddSingleton<IIdempotencyStore>(sp => sp.GetRequiredService<ObservedStore>());
            });

    public sealed record Job(int N, string Behaviour);

    /// <summary>
    /// Opens the gate when disposed, before the bus (declared after it): a failed test's stop then never waits for a gated handler,
    /// which a fake clock's stop timeout would not end.
    /// </summary>
    private sealed class OpenOnDispose(Gate gate) : IDisposable
    {
        public void Dispose() => gate.Open();
    }

    public sealed class JobHandler(
        Recorder<JobHandler, (int N, string Behaviour, int DeliveryCount)> started,
        Recorder<JobHandler, (int N, string Behaviour)> handled,
        Gate gate) : IEventHandler<Job>
    {
        public async ValueTask HandleAsync(Job @event, MessageContext context, CancellationToken cancellationToken)
        {
            started.Add((@event.N, @event.Behaviour, context.DeliveryCount));
            switch (@event.Behaviour)
            {
                case "work":
                    // A little work that gives the other workers the thread pool in between.
                    for (var i = 0; i < 4; i++)
                    {
                        await Task.Yield();
                    }

                    break;
                case "gate":
                    await gate.WaitAsync(cancellationToken);
                    break;
                case "gate-ignoring-cancellation":
                    await gate.WaitAsync(CancellationToken.None);
                    break;
                case "gate-then-throw":
                    await gate.WaitAsync(cancellationToken);
                    throw new InvalidOperationException($"job {@event.N} failed");
                case "nack-first" when context.DeliveryCount == 1:
                    context.Settlement!.Value.Nack("not yet");
                    return;
                case "dead-letter-first" when started.Count == 1:
                    context.Settlement!.Value.DeadLetter("not this time");
                    return;
            }

            handled.Add((@event.N, @event.Behaviour));
        }
    }

    public sealed class SecondHandler(Recorder<SecondHandler, MessageId> seen) : IEventHandler<Job>
    {
        public ValueTask HandleAsync(Job @event, MessageContext context, CancellationToken cancellationToken)
        {
            seen.Add(context.MessageId);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The default store, observed: which claims had to wait for a copy in progress, what each claim answered, and how the claims were ended (in call order).</summary>
    public sealed class ObservedStore(IIdempotencyStore inner) : IIdempotencyStore
    {
        public Recorder<MessageId> Waiting { get; } = new();

        public Recorder<(MessageId Id, bool Claimed)> Answers { get; } = new();

        public Recorder<(MessageId Id, bool Handled)> Ended { get; } = new();

        public async ValueTask<bool> TryBeginAsync(string subscription, MessageId messageId, CancellationToken cancellationToken)
        {
            var pending = inner.TryBeginAsync(subscription, messageId, cancellationToken);
            if (!pending.IsCompleted)
            {
                Waiting.Add(messageId);
            }

            var claimed = await pending;
            Answers.Add((messageId, claimed));
            return claimed;
        }

        public ValueTask EndAsync(string subscription, MessageId messageId, bool handled, CancellationToken cancellationToken)
        {
            // Recorded first: a copy woken by this call may end its own claim before this call returns.
            Ended.Add((messageId, handled));
            return inner.EndAsync(subscription, messageId, handled, cancellationToken);
        }
    }

    /// <summary>A user's store (a durable one, say) that already knows one id: it answers from its own memory and records every call.</summary>
    public sealed class FixedStore(MessageId known) : IIdempotencyStore
    {
        public Recorder<(string Subscription, MessageId Id)> Begun { get; } = new();

        public Recorder<(string Subscription, MessageId Id, bool Handled)> Ended { get; } = new();

        public ValueTask<bool> TryBeginAsync(string subscription, MessageId messageId, CancellationToken cancellationToken)
        {
            Begun.Add((subscription, messageId));
            return new(messageId != known);
        }

        public ValueTask EndAsync(string subscription, MessageId messageId, bool handled, CancellationToken cancellationToken)
        {
            Ended.Add((subscription, messageId, handled));
            return default;
        }
    }
}
