using System.Diagnostics;

namespace EventBus;

/// <summary>
/// One event as a stream's storage keeps it: the message and the parts of its envelope that differ from event to event. The
/// message type is the topic's, the offset is where the storage keeps the record, and the delivery fields are set per delivery,
/// so none is stored: 48 bytes where the whole envelope would take 80. Every group reads every record from another core, so its
/// size is memory traffic on the broadcast path.
/// </summary>
internal readonly struct StreamRecord(object message, in MessageContext context)
{
    public readonly object Message = message;
    public readonly MessageId MessageId = context.MessageId;
    public readonly long TimestampTicks = context.TimestampTicks;
    public readonly object? Extras = context.Extras;
    public readonly Activity? Trace = context.Trace;

    /// <summary>Gets the partition key the publisher gave, if any (read without building the envelope).</summary>
    public string? PartitionKey => MessageContext.OptionsOf(Extras)?.PartitionKey;
}
