namespace EventBus;

/// <summary>
/// Observes what the bus does with messages: each message a topic accepts, each delivery a subscription or consumer group
/// handled, each failed attempt, each message that was not handled, and each run of stream events a consumer group skipped.
/// For audit trails, custom metrics or tests.
/// </summary>
/// <remarks>
/// Register any number in the container (<c>services.AddSingleton&lt;IEventBusObserver, MyObserver&gt;()</c>, before the bus is
/// first resolved). The bus calls them in registration order, on the thread that did the work, outside its locks: keep them
/// short and never block. An exception an observer throws is logged and ignored. Every method does nothing unless overridden.
/// </remarks>
public interface IEventBusObserver
{
    /// <summary>A topic accepted a message: every subscription of it has it now (or dropped it by its full policy).</summary>
    /// <param name="message">The message.</param>
    /// <param name="context">Its envelope, with its offset for a stream topic.</param>
    void OnPublished(object message, MessageContext context)
    {
    }

    /// <summary>A subscription or consumer group handled a message successfully.</summary>
    /// <param name="message">The message.</param>
    /// <param name="context">The delivery's envelope: <see cref="MessageContext.Subscription"/> names the subscription or group.</param>
    void OnHandled(object message, MessageContext context)
    {
    }

    /// <summary>An attempt to handle a message failed: its handler threw, timed out, or nacked it. It may be attempted again.</summary>
    /// <param name="message">The message.</param>
    /// <param name="context">The attempt's envelope, with its <see cref="MessageContext.DeliveryCount"/>.</param>
    /// <param name="exception">The handler's exception, or <see langword="null"/> for a nack.</param>
    void OnFailed(object message, MessageContext context, Exception? exception)
    {
    }

    /// <summary>A message was not handled successfully, for good: the same report <see cref="EventBusOptions.OnUndelivered"/> receives.</summary>
    /// <param name="message">The message, its subscription and why.</param>
    void OnUndelivered(UndeliveredMessage message)
    {
    }

    /// <summary>
    /// A consumer group skipped stream events without reading them: retention trimmed them first, or the group's reset policy
    /// jumped over them. Each case is also logged and counted.
    /// </summary>
    /// <param name="topic">The stream's topic name.</param>
    /// <param name="group">The consumer group's name.</param>
    /// <param name="fromOffset">The first skipped offset.</param>
    /// <param name="count">How many events were skipped, from <paramref name="fromOffset"/> on.</param>
    /// <param name="reason">Why they were skipped.</param>
    void OnStreamEventsSkipped(string topic, string group, long fromOffset, long count, string reason)
    {
    }
}
