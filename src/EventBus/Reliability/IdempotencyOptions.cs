using Microsoft.Extensions.Options;

namespace EventBus;

/// <summary>Options of the idempotency helper (<see cref="EventBusBuilder.UseIdempotency(Action{IdempotencyOptions}?)"/>).</summary>
public sealed class IdempotencyOptions
{
    /// <summary>Gets or sets how long a successfully handled message id is remembered per subscription, counted from the end of its handling.</summary>
    /// <value>The default value is 10 minutes. Range: 1 second to 7 days.</value>
    public TimeSpan Window { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// Gets or sets how many handled message ids the in-memory store remembers at most; past it, the oldest are forgotten first.
    /// Ids being handled are not counted and never forgotten: they are bounded by the messages in flight.
    /// </summary>
    /// <value>The default value is 100,000. Range: 1 to 10,000,000.</value>
    public int MaxEntries { get; set; } = 100_000;

    /// <summary>Throws an <see cref="OptionsValidationException"/> that names every invalid option and its value.</summary>
    internal void ThrowIfInvalid()
    {
        var failures = Validate().ToList();
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(IdempotencyOptions), failures);
        }
    }

    internal IEnumerable<string> Validate()
    {
        if (Window < TimeSpan.FromSeconds(1) || Window > TimeSpan.FromDays(7))
        {
            yield return $"IdempotencyOptions.Window must be between 00:00:01 and 7.00:00:00; it is {Window}.";
        }

        if (MaxEntries is < 1 or > 10_000_000)
        {
            yield return $"IdempotencyOptions.MaxEntries must be between 1 and 10000000; it is {MaxEntries}.";
        }
    }
}
