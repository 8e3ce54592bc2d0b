namespace EventBus;

/// <summary>A message and its envelope as it sits in a subscription's buffer: a struct, so buffering allocates nothing per message.</summary>
/// <param name="message">The message.</param>
/// <param name="context">The envelope; its <see cref="MessageContext.DeliveryCount"/> is the attempt the next delivery makes.</param>
/// <param name="firstFailureTicks">For a redelivery: when the first attempt of this round failed (UTC ticks); otherwise 0.</param>
internal readonly struct Envelope(object message, MessageContext context, long firstFailureTicks = 0)
{
    public readonly object Message = message;
    public readonly MessageContext Context = context;
    public readonly long FirstFailureTicks = firstFailureTicks;
}
