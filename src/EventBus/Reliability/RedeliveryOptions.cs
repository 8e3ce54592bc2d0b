namespace EventBus;

/// <summary>
/// When and how often a failed delivery is tried again before the message is dead-lettered.
/// </summary>
/// <remarks>
/// Attempt 1 is the first delivery. After a failure, the next <see cref="ImmediateRetries"/> attempts run at once (on the same
/// worker, in a fresh DI scope); later ones wait <see cref="InitialDelay"/> × 2^(n-1) (capped at <see cref="MaxDelay"/>, with
/// ±<see cref="JitterFraction"/> random jitter). After <see cref="MaxDeliveries"/> attempts the message is dead-lettered.
/// In <see cref="DeliveryMode.Queue"/> a delayed message is scheduled on a timer and the worker moves on to other messages; in
/// <see cref="DeliveryMode.Broadcast"/> and <see cref="DeliveryMode.KeyOrdered"/> the worker waits in place, so that the
/// subscription's order (a key's order) is kept.
/// </remarks>
public sealed class RedeliveryOptions
{
    /// <summary>Gets or sets the total number of attempts, the first delivery included. 1 means no redelivery.</summary>
    /// <value>The default value is 1. Range: 1 to 1000.</value>
    public int MaxDeliveries { get; set; } = 1;

    /// <summary>Gets or sets how many redeliveries run immediately, before the delayed ones.</summary>
    /// <value>The default value is 0. Range: 0 to <see cref="MaxDeliveries"/> - 1.</value>
    public int ImmediateRetries { get; set; }

    /// <summary>Gets or sets the delay before the first delayed redelivery; each later one doubles it.</summary>
    /// <value>The default value is 200 milliseconds. Range: zero to one hour.</value>
    public TimeSpan InitialDelay { get; set; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Gets or sets the longest delay between two attempts.</summary>
    /// <value>The default value is 30 seconds. Range: <see cref="InitialDelay"/> to one day.</value>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the random jitter applied to each delay, as a fraction of it (0.2 = ±20%), so that retries of many messages spread out.</summary>
    /// <value>The default value is 0.2. Range: 0 to 1.</value>
    public double JitterFraction { get; set; } = 0.2;

    /// <summary>Computes the delay before attempt <paramref name="nextAttempt"/>, or zero when it is an immediate retry.</summary>
    /// <param name="nextAttempt">The attempt about to be made (2 for the first redelivery).</param>
    /// <param name="random">A number in [0, 1) for the jitter.</param>
    /// <returns>The delay.</returns>
    public TimeSpan GetDelay(int nextAttempt, double random)
    {
        var delayed = nextAttempt - 1 - ImmediateRetries; // 1 for the first delayed redelivery
        if (delayed <= 0)
        {
            return TimeSpan.Zero;
        }

        var ticks = Math.Min(InitialDelay.Ticks * Math.Pow(2, delayed - 1), MaxDelay.Ticks);
        var jitter = 1 + (JitterFraction * ((2 * random) - 1));
        return TimeSpan.FromTicks((long)Math.Min(ticks * jitter, MaxDelay.Ticks));
    }

    internal RedeliveryOptions Clone() => (RedeliveryOptions)MemberwiseClone();

    internal IEnumerable<string> Validate(string owner)
    {
        if (MaxDeliveries is < 1 or > 1000)
        {
            yield return $"RedeliveryOptions.MaxDeliveries of {owner} must be between 1 and 1000; it is {MaxDeliveries}.";
        }

        if (ImmediateRetries < 0 || ImmediateRetries > Math.Max(0, MaxDeliveries - 1))
        {
            yield return $"RedeliveryOptions.ImmediateRetries of {owner} must be between 0 and MaxDeliveries - 1 ({Math.Max(0, MaxDeliveries - 1)}); it is {ImmediateRetries}.";
        }

        if (InitialDelay < TimeSpan.Zero || InitialDelay > TimeSpan.FromHours(1))
        {
            yield return $"RedeliveryOptions.InitialDelay of {owner} must be between 00:00:00 and 01:00:00; it is {InitialDelay}.";
        }

        if (MaxDelay < InitialDelay || MaxDelay > TimeSpan.FromDays(1))
        {
            yield return $"RedeliveryOptions.MaxDelay of {owner} must be between InitialDelay ({InitialDelay}) and 1.00:00:00; it is {MaxDelay}.";
        }

        if (double.IsNaN(JitterFraction) || JitterFraction is < 0 or > 1)
        {
            yield return $"RedeliveryOptions.JitterFraction of {owner} must be between 0 and 1; it is {JitterFraction}.";
        }
    }
}

/// <summary>When a subscription acknowledges a message, or a consumer group commits an event's offset.</summary>
public enum AckMode
{
    /// <summary>
    /// At-least-once: after the handler succeeded; a failure is redelivered or dead-lettered. The default. A consumer group commits
    /// every <see cref="ConsumerGroupOptions.CommitEvery"/> events or <see cref="ConsumerGroupOptions.CommitInterval"/>, and
    /// whenever it catches up or stops.
    /// </summary>
    AfterHandling = 0,

    /// <summary>
    /// At-most-once: when a worker takes the message (a group commits the event before its handler runs); a failure is logged
    /// and reported to <see cref="EventBusOptions.OnUndelivered"/>, never attempted again (the redelivery policy does not apply)
    /// nor dead-lettered.
    /// </summary>
    BeforeHandling = 1,

    /// <summary>
    /// Consumer groups only: the offset is committed only when the handler calls <see cref="MessageSettlement.Commit"/>. Uncommitted
    /// events count against <see cref="ConsumerGroupOptions.Capacity"/>. A subscription acknowledges when its handler returns, so it
    /// refuses this mode.
    /// </summary>
    Manual = 2,
}
