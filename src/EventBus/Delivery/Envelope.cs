namespace EventBus;

/// <summary>A message and its envelope as it sits in a subscription's buffer: a struct, so buffering allocates nothing per message.</summary>
internal readonly struct Envelope(object message, MessageContext context)
{
    public readonly object Message = message;
    public readonly MessageContext Context = context;
}
