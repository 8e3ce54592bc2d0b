using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EventBus;

/// <summary>
/// A message and its envelope as it sits in a subscription's buffer: a struct, so buffering allocates nothing per message. It keeps
/// only what a publisher stamped (the delivery's own values, its subscription and settlement, are added when a worker takes it),
/// so a buffer entry is one cache line rather than a message beside a whole <see cref="MessageContext"/>.
/// </summary>
/// <remarks>
/// <para>Every buffered message crosses from the publisher's core to a worker's inside its entry, so the entry's size is what each
/// message costs in cache-line transfers. A redelivery's count and the time its first attempt failed are rare: they travel in a
/// small object in the place of the publisher's options (<see cref="Redelivery"/>), allocated only for a scheduled redelivery.</para>
/// <para>Layout: references and values alternate, as in <see cref="MessageContext"/>, so that copying an entry never meets a run
/// of more than two 8-byte value slots.</para>
/// </remarks>
[StructLayout(LayoutKind.Explicit)]
internal readonly struct Envelope
{
    [FieldOffset(0)]
    public readonly object Message;

    [FieldOffset(8)]
    private readonly MessageId _messageId;

    [FieldOffset(24)]
    private readonly string _messageType;

    [FieldOffset(32)]
    private readonly long _timestampTicks;

    [FieldOffset(40)]
    private readonly object? _extras; // the context's extras, or a Redelivery that holds them

    [FieldOffset(48)]
    private readonly long _offsetPlusOne;

    [FieldOffset(56)]
    private readonly Activity? _trace;

    /// <summary>Initializes a new instance of the <see cref="Envelope"/> struct.</summary>
    /// <param name="message">The message.</param>
    /// <param name="context">The envelope; its <see cref="MessageContext.DeliveryCount"/> is the attempt the next delivery makes. Its
    /// subscription and settlement are not kept: the delivery sets its own.</param>
    /// <param name="firstFailureTicks">For a redelivery: when the first attempt of this round failed (UTC ticks); otherwise 0.</param>
    public Envelope(object message, in MessageContext context, long firstFailureTicks = 0)
    {
        Message = message;
        _messageId = context.MessageId;
        _messageType = context.MessageType;
        _timestampTicks = context.TimestampTicks;
        _extras = context.DeliveryCount == 1 && firstFailureTicks == 0
            ? context.Extras
            : new Redelivery(context.Extras, context.DeliveryCount, firstFailureTicks);
        _offsetPlusOne = context.OffsetPlusOne;
        _trace = context.Trace;
    }

    /// <summary>Gets the envelope as the publisher stamped it, with the delivery count of the next attempt, no subscription and no settlement.</summary>
    public MessageContext Context => _extras is Redelivery redelivery
        ? new(_messageId, _messageType, _timestampTicks, redelivery.Extras, _trace, deliveryCount: redelivery.DeliveryCount, offsetPlusOne: _offsetPlusOne)
        : new(_messageId, _messageType, _timestampTicks, _extras, _trace, offsetPlusOne: _offsetPlusOne);

    /// <summary>Gets the delivery count of the next attempt.</summary>
    public int DeliveryCount => _extras is Redelivery redelivery ? redelivery.DeliveryCount : 1;

    /// <summary>Gets, for a redelivery, when the first attempt of this round failed (UTC ticks); otherwise 0.</summary>
    public long FirstFailureTicks => _extras is Redelivery redelivery ? redelivery.FirstFailureTicks : 0;

    /// <summary>Gets the partition key the publisher set, or null.</summary>
    public string? PartitionKey => MessageContext.OptionsOf(_extras is Redelivery redelivery ? redelivery.Extras : _extras)?.PartitionKey;

    /// <summary>What a redelivered message carries beyond its first envelope.</summary>
    private sealed class Redelivery(object? extras, int deliveryCount, long firstFailureTicks)
    {
        public readonly object? Extras = extras;
        public readonly int DeliveryCount = deliveryCount;
        public readonly long FirstFailureTicks = firstFailureTicks;
    }
}
