namespace EventBus;

/// <summary>
/// Starts and stops the bus's workers, and reports their state. With the generic host this is done for you by a hosted
/// service registered by <c>AddEventBus</c>; without a host, resolve this interface and call <see cref="StartAsync"/> and <see cref="StopAsync"/>.
/// </summary>
public interface IEventBusControl
{
    /// <summary>Gets a value indicating whether the workers are running.</summary>
    bool IsRunning { get; }

    /// <summary>Starts the workers of every subscription. Messages published before start wait in their buffers.</summary>
    /// <param name="cancellationToken">Not used beyond an early cancellation check: starting does not wait.</param>
    /// <returns>A completed task once the workers run.</returns>
    /// <exception cref="InvalidOperationException">The bus was stopped: a stopped bus cannot be restarted.</exception>
    Task StartAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Stops accepting messages, lets the workers drain what is buffered and in flight for up to
    /// <see cref="EventBusOptions.StopTimeout"/> (or until <paramref name="cancellationToken"/> is cancelled), then cancels the
    /// handlers and reports what could not be finished (also logged and passed to <see cref="EventBusOptions.OnUndelivered"/>).
    /// Publishing after stop throws <see cref="ObjectDisposedException"/>. Calling it again returns the first report.
    /// </summary>
    /// <param name="cancellationToken">Cuts the drain short, like an expired stop timeout.</param>
    /// <returns>What was and was not finished.</returns>
    Task<StopReport> StopAsync(CancellationToken cancellationToken = default);

    /// <summary>Describes what the bus is wired to do: topics, subscriptions with their effective options, commands and handlers.</summary>
    /// <returns>The topology; <see cref="BusTopology.ToMermaid"/> renders it as a diagram.</returns>
    BusTopology DescribeTopology();

    /// <summary>
    /// Takes a snapshot of every subscription and consumer group: configuration, buffer depth, in-flight count and counters, and
    /// for a group its offsets and lag.
    /// </summary>
    /// <remarks>
    /// <para>Consumer groups are listed while registered (<see cref="EventBusBuilder.AddStreamGroup{TEvent, THandler}"/>) or running
    /// (<see cref="IEventStreams.SubscribeAsync{TEvent}"/>), and after <see cref="StopAsync"/> the groups it stopped. A group
    /// disposed while the bus runs leaves the snapshot: <see cref="IEventStreams.GetStreamInfo{TEvent}"/> lists it with its
    /// committed offset.</para>
    /// <para>Counters move when a delivery ends, just after the handler returns: a snapshot taken from a signal the handler itself
    /// raised may still show that delivery in flight. For final figures, take the snapshot after <see cref="StopAsync"/>.</para>
    /// </remarks>
    /// <returns>One entry per subscription and per consumer group, ordered by topic, then by subscription or group name.</returns>
    IReadOnlyList<SubscriptionSnapshot> GetSnapshot();
}
