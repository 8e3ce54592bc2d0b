namespace EventBus;

/// <summary>
/// Retention of a stream (the log of one event type). Either limit trims when reached; with neither, an event is kept until every
/// running consumer group has committed past it.
/// </summary>
public sealed class StreamOptions
{
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
