namespace EventBus;

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
