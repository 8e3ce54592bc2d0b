using System.Diagnostics;

namespace EventBus;

/// <summary>
/// One event in a stream as a segment stores it: the message and the parts of its envelope that differ from event to event. The
/// message type is the topic's, the offset is the record's place in its segment, and the delivery fields are set per delivery, so
/// none is stored: 48 bytes where the whole envelope would take 80. Every group reads every record from another core, so its
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

/// <summary>One event read from a stream: its stored record and its offset.</summary>
internal readonly struct StreamEntry(in StreamRecord record, long offset)
{
    public readonly StreamRecord Record = record;
    public readonly long Offset = offset;

    public object Message => Record.Message;

    /// <summary>
    /// The event's envelope with its offset: as published, or for a group (<paramref name="subscription"/>), or for one delivery
    /// to its handler (with the attempt's settlement).
    /// </summary>
    public MessageContext ToContext(string messageType, string? subscription = null, int deliveryCount = 1, Settlement? settlement = null, int settlementVersion = 0) =>
        new(Record.MessageId, messageType, Record.TimestampTicks, Record.Extras, Record.Trace, subscription, deliveryCount, settlement, settlementVersion, Offset + 1);
}
