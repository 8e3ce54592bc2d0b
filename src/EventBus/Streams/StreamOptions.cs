namespace EventBus;

/// <summary>
/// Retention of a stream (the log of one event type). Either limit trims when reached, whether or not a consumer group still needs
/// the events (a group that falls that far behind skips them, and reports it). With neither, the stream keeps its newest
/// <see cref="DefaultHistory"/> events for replay, and longer every event a consumer group has not processed yet (bounded by the
/// group's backlog).
/// </summary>
public sealed class StreamOptions
{
    /// <summary>
    /// How many of its newest events a stream keeps, for replay and for groups that start later, when neither <see cref="MaxCount"/>
    /// nor <see cref="MaxAge"/> is set. Events a consumer group has not processed yet are kept beyond it. The history is trimmed
    /// every 512 events, so up to 511 more are held.
    /// </summary>
    public const int DefaultHistory = 10_000;

    /// <summary>Gets or sets how many events the stream keeps at most; older events are trimmed.</summary>
    /// <value>The default value is <see langword="null"/>: no count limit. Range: 1 to 1,073,741,824.</value>
    public long? MaxCount { get; set; }

    /// <summary>Gets or sets how long the stream keeps an event (from its <see cref="MessageContext.Timestamp"/>, on the bus's <see cref="TimeProvider"/>).</summary>
    /// <value>The default value is <see langword="null"/>: no age limit. Range: 1 ms to 3,650 days.</value>
    public TimeSpan? MaxAge { get; set; }

    internal const long MaxCountLimit = 1L << 30;

    internal IEnumerable<string> Validate(string owner)
    {
        if (MaxCount is < 1 or > MaxCountLimit)
        {
            yield return $"StreamOptions.MaxCount of {owner} must be between 1 and {MaxCountLimit}; it is {MaxCount}.";
        }

        if (MaxAge is { } age && (age < TimeSpan.FromMilliseconds(1) || age > TimeSpan.FromDays(3650)))
        {
            yield return $"StreamOptions.MaxAge of {owner} must be between 00:00:00.001 and 3650.00:00:00; it is {age}.";
        }
    }
}
