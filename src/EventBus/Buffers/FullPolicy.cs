namespace EventBus;

/// <summary>What a publish does when a subscription's bounded buffer is full.</summary>
public enum FullPolicy
{
    /// <summary>The publisher waits (asynchronously, honouring its cancellation token) until there is room. The default.</summary>
    Wait = 0,

    /// <summary>The publish fails at once with a <see cref="BufferFullException"/>; no subscription receives the message.</summary>
    FailFast = 1,

    /// <summary>The oldest buffered message of that subscription is dropped to make room; counted and reported to <see cref="EventBusOptions.OnUndelivered"/>.</summary>
    DropOldest = 2,

    /// <summary>The message being published is not given to that subscription; counted and reported to <see cref="EventBusOptions.OnUndelivered"/>.</summary>
    DropNewest = 3,
}
