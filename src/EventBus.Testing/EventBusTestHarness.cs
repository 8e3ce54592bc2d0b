using System.Diagnostics;
using System.Text;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Testing;

/// <summary>One message the harness saw, with its envelope.</summary>
/// <typeparam name="TMessage">The message type.</typeparam>
/// <param name="Message">The message.</param>
/// <param name="Context">Its envelope (for handled and failed messages: the delivery's, with subscription and delivery count).</param>
/// <param name="Exception">The exception of a failed attempt; otherwise <see langword="null"/>.</param>
public sealed record Captured<TMessage>(TMessage Message, MessageContext Context, Exception? Exception = null);

/// <summary>
/// Observes a bus in tests: waits until it is idle — nothing buffered, in flight or waiting for a redelivery, cascades included —
/// by counting messages rather than by waiting for inactivity, and records what was published, handled, failed and dead-lettered.
/// Register it with <see cref="EventBusTestingExtensions.AddTestHarness(EventBusBuilder)"/> and resolve it from the container.
/// </summary>
[DebuggerDisplay("{Pending} pending, {_published.Count} published, {_handled.Count} handled")]
public sealed class EventBusTestHarness : IEventBusObserver
{
    private readonly Lock _lock = new();
    private readonly List<Captured<object>> _published = [];
    private readonly List<Captured<object>> _handled = [];
    private readonly List<Captured<object>> _failed = [];
    private readonly List<UndeliveredMessage> _undelivered = [];
    private readonly EventBusRuntime _bus;

    internal EventBusTestHarness(EventBusRuntime bus)
    {
        _bus = bus;
    }

    /// <summary>Gets the number of messages the bus owns now: buffered, in flight, or waiting for a delayed redelivery.</summary>
    public long Pending => _bus.Pending!.Pending;

    /// <summary>Gets the control of the observed bus.</summary>
    public IEventBusControl Control => _bus;

    /// <summary>
    /// Waits until the bus is idle: every message published so far — and every message its handlers published in turn — has reached
    /// its final outcome (handled, dead-lettered, dropped or reported). Returns at once when it is idle already.
    /// </summary>
    /// <param name="timeout">How long to wait; the default is 30 seconds.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the bus is idle.</returns>
    /// <exception cref="TimeoutException">The bus did not become idle in time; the message lists what is still pending, per subscription.</exception>
    public async Task WaitForIdleAsync(TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        var limit = timeout ?? TimeSpan.FromSeconds(30);
        try
        {
            await _bus.Pending!.WaitForIdleAsync(cancellationToken).WaitAsync(limit, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException(DescribePending(limit), e);
        }
    }

    /// <summary>Gets the messages of type <typeparamref name="TMessage"/> (or derived) published to the bus, in publish order.</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <returns>A copy of the captured messages.</returns>
    public IReadOnlyList<Captured<TMessage>> Published<TMessage>() => Of<TMessage>(_published);

    /// <summary>Gets the deliveries of messages of type <typeparamref name="TMessage"/> (or derived) that a handler completed successfully.</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <returns>A copy, in completion order (one entry per subscription that handled the message).</returns>
    public IReadOnlyList<Captured<TMessage>> Handled<TMessage>() => Of<TMessage>(_handled);

    /// <summary>Gets the failed attempts (a handler threw, timed out or nacked) for messages of type <typeparamref name="TMessage"/> (or derived).</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <returns>A copy, in failure order, each with its exception.</returns>
    public IReadOnlyList<Captured<TMessage>> Failed<TMessage>() => Of<TMessage>(_failed);

    /// <summary>Gets the dead letters of messages of type <typeparamref name="TMessage"/> (or derived), as the bus keeps them.</summary>
    /// <typeparam name="TMessage">The message type.</typeparam>
    /// <returns>A copy of the dead letters.</returns>
    public IReadOnlyList<DeadLetter> DeadLettered<TMessage>() => _bus.DeadLetters.GetDeadLetters().Where(d => d.Message is TMessage).ToList();

    /// <summary>Gets every message reported to <see cref="EventBusOptions.OnUndelivered"/> (failures, drops, rejections, unfinished at stop).</summary>
    /// <returns>A copy, in report order.</returns>
    public IReadOnlyList<UndeliveredMessage> Undelivered()
    {
        lock (_lock)
        {
            return [.. _undelivered];
        }
    }

    void IEventBusObserver.OnPublished(object message, MessageContext context) => Add(_published, new Captured<object>(message, context));

    void IEventBusObserver.OnHandled(object message, MessageContext context) => Add(_handled, new Captured<object>(message, context));

    void IEventBusObserver.OnFailed(object message, MessageContext context, Exception? exception) => Add(_failed, new Captured<object>(message, context, exception));

    void IEventBusObserver.OnUndelivered(UndeliveredMessage message)
    {
        lock (_lock)
        {
            _undelivered.Add(message);
        }
    }

    private void Add(List<Captured<object>> list, Captured<object> item)
    {
        lock (_lock)
        {
            list.Add(item);
        }
    }

    private List<Captured<TMessage>> Of<TMessage>(List<Captured<object>> list)
    {
        lock (_lock)
        {
            return list.Where(c => c.Message is TMessage).Select(c => new Captured<TMessage>((TMessage)c.Message, c.Context, c.Exception)).ToList();
        }
    }

    private string DescribePending(TimeSpan limit)
    {
        var text = new StringBuilder($"The event bus was not idle after {limit}: {Pending} message(s) still pending.");
        foreach (var s in _bus.GetSnapshot().Where(s => s.Depth + s.InFlight + s.ScheduledRedeliveries > 0))
        {
            text.Append($" {s.Topic} -> {s.Subscription}: {s.InFlight} in flight, {s.Depth} buffered, {s.ScheduledRedeliveries} waiting for redelivery ({s.State}).");
        }

        return text.ToString();
    }
}

/// <summary>Adds the test harness to a bus.</summary>
public static class EventBusTestingExtensions
{
    /// <summary>
    /// Adds <see cref="EventBusTestHarness"/> to the container: turns on pending-message counting (a little contention on the hot
    /// path, meant for tests) and records published messages, handled and failed deliveries of subscriptions (inline
    /// <c>SendAsync</c> calls return their outcome to the caller and are not recorded), and undelivered messages. Resolving the
    /// harness resolves the bus.
    /// </summary>
    /// <param name="builder">The bus builder.</param>
    /// <returns>The builder.</returns>
    public static EventBusBuilder AddTestHarness(this EventBusBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Registry.TrackPending = true;

        // Attached while the bus is built, so that nothing published before the harness is first resolved goes unrecorded.
        builder.Registry.Built.Add(static bus =>
        {
            var harness = new EventBusTestHarness(bus);
            bus.Observers.Add(harness);
            bus.Pending!.Owner = harness;
        });
        builder.Services.AddSingleton(static sp => (EventBusTestHarness)sp.GetRequiredService<EventBusRuntime>().Pending!.Owner!);
        return builder;
    }
}
