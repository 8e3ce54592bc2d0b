using System.Collections.Frozen;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace EventBus;

/// <summary>
/// The envelope of one delivery: who the message is, where it came from and how often it was delivered.
/// </summary>
/// <remarks>
/// A <see cref="MessageContext"/> is a small immutable struct handed to every handler and middleware
/// next to the message itself. The message object is never copied by the bus: every subscriber receives
/// the same instance, which is why messages must be immutable (use <c>sealed record</c> types).
/// </remarks>
[DebuggerDisplay("{MessageType,nq} {MessageId}")]
[StructLayout(LayoutKind.Explicit)]
public readonly struct MessageContext
{
    // Layout: this struct sits in every buffered envelope and is copied on each hand-off, so it is kept small (80 bytes):
    // the envelope values a publisher set live in its immutable PublishOptions (one reference for four values), the timestamp
    // is UTC ticks, and the trace context is read from the publisher's Activity (a reference) rather than copied. A command sent
    // through its queue (SendQueuedAsync) carries, in the same reference, the reply its sender awaits, which holds the options.
    //
    // The offsets interleave the five references with the value fields, so that no more than two 8-byte value slots follow one
    // another. The runtime's default layout puts the references first and the five value slots after them, and the JIT copies
    // such a run of four or more value slots with `rep movsq`, whose start-up cost is paid on every copy: when the context is
    // passed to a handler by value, written to a buffer slot, or read back from it (eight such copies on the queue worker's path
    // alone). Interleaved, each slot is moved on its own, which keeps those copies cheap (the measured effect is in
    // docs/benchmarks.md, "Measured effects of design choices").
    //
    // [0] MessageType · [8] MessageId (16 bytes) · [24] _extras · [32] _timestampTicks · [40] _trace · [48] _offsetPlusOne
    // [56] Subscription · [64] DeliveryCount, [68] _settlementVersion · [72] _settlement: 80 bytes, no gaps.
    private static readonly IReadOnlyDictionary<string, string> s_noHeaders = FrozenDictionary<string, string>.Empty;

    [FieldOffset(24)]
    private readonly object? _extras; // PublishOptions, or a ReplySink (which holds them)
    [FieldOffset(40)]
    private readonly Activity? _trace;
    [FieldOffset(32)]
    private readonly long _timestampTicks;
    [FieldOffset(72)]
    private readonly Settlement? _settlement;
    [FieldOffset(68)]
    private readonly int _settlementVersion;
    [FieldOffset(48)]
    private readonly long _offsetPlusOne; // 0: not in a stream

    internal MessageContext(
        MessageId messageId,
        string messageType,
        long timestampTicks,
        object? extras,
        Activity? trace,
        string? subscription = null,
        int deliveryCount = 1,
        Settlement? settlement = null,
        int settlementVersion = 0,
        long offsetPlusOne = 0)
    {
        MessageId = messageId;
        MessageType = messageType;
        _timestampTicks = timestampTicks;
        _extras = extras;
        _trace = trace;
        Subscription = subscription;
        DeliveryCount = deliveryCount;
        _settlement = settlement;
        _settlementVersion = settlementVersion;
        _offsetPlusOne = offsetPlusOne;
    }

    internal MessageContext(MessageId messageId, string messageType, DateTimeOffset timestamp, string? correlationId, string? causationId, IReadOnlyDictionary<string, string>? headers, string? partitionKey)
        : this(messageId, messageType, timestamp.UtcTicks,
            correlationId is null && causationId is null && headers is null && partitionKey is null ? null : new PublishOptions { CorrelationId = correlationId, CausationId = causationId, Headers = headers, PartitionKey = partitionKey },
            null)
    {
    }

    /// <summary>Gets the unique, sortable identifier of the message, assigned when it was published or sent.</summary>
    [field: FieldOffset(8)]
    public MessageId MessageId { get; }

    /// <summary>Gets the message-type key: the full name of the message's CLR type (its topic).</summary>
    [field: FieldOffset(0)]
    public string MessageType { get; }

    /// <summary>Gets the time the message was published (UTC), read from the bus's <see cref="TimeProvider"/>.</summary>
    public DateTimeOffset Timestamp => new(_timestampTicks, TimeSpan.Zero);

    /// <summary>Gets the identifier that ties together every message of one business flow, or <see langword="null"/>.</summary>
    public string? CorrelationId => Options?.CorrelationId;

    /// <summary>Gets the identifier of the message that caused this one, or <see langword="null"/>.</summary>
    public string? CausationId => Options?.CausationId;

    /// <summary>Gets the headers given at publish time; empty (never <see langword="null"/>) when there were none.</summary>
    public IReadOnlyDictionary<string, string> Headers => Options?.Headers ?? s_noHeaders;

    /// <summary>Gets the partition key given at publish time, or <see langword="null"/>.</summary>
    public string? PartitionKey => Options?.PartitionKey;

    /// <summary>Gets the name of the subscription this delivery belongs to, or <see langword="null"/> for an inline command send.</summary>
    [field: FieldOffset(56)]
    public string? Subscription { get; }

    /// <summary>Gets how many times this message has been delivered to this subscription, counting this delivery (1 for the first).</summary>
    [field: FieldOffset(64)]
    public int DeliveryCount { get; }

    /// <summary>
    /// Gets the trace context of the publish (the <c>publish</c> span when tracing is on, otherwise the publisher's current
    /// activity, if any): the <c>process</c> span of each delivery is its child, so a flow and its cascades form one trace.
    /// </summary>
    public ActivityContext TraceContext => _trace?.Context ?? default;

    /// <summary>
    /// Gets the event's offset in its topic's stream: dense, starting at 0, never reused; <see langword="null"/> when the topic is
    /// not a stream (see <see cref="EventBusBuilder.AddStream{TEvent}(Action{StreamOptions}?)"/>) or the message is a command.
    /// </summary>
    public long? Offset => _offsetPlusOne == 0 ? null : _offsetPlusOne - 1;

    /// <summary>Gets a value indicating whether the message was delivered to this subscription before.</summary>
    public bool Redelivered => DeliveryCount > 1;

    /// <summary>
    /// Gets the settlement of this delivery, with which its handler nacks it, dead-letters it or commits its consumer group's
    /// offset; <see langword="null"/> when the delivery cannot be settled by hand (an inline send, a pull subscription's reader,
    /// or a context kept from a publish).
    /// </summary>
    public MessageSettlement? Settlement => _settlement is null ? null : new MessageSettlement(_settlement, _settlementVersion, _offsetPlusOne);

    internal long TimestampTicks => _timestampTicks;

    /// <summary>A new envelope: a new message id (unless the options give one), the time of <paramref name="clock"/>, the options (or the reply that holds them), the caller's activity.</summary>
    internal static MessageContext Stamped(string messageType, PublishOptions? options, ReplySink? reply, TimeProvider clock)
    {
        var now = clock.GetUtcNow();
        return new(options?.MessageId ?? MessageId.NewId(now), messageType, now.UtcTicks, (object?)reply ?? options, Activity.Current);
    }

    /// <summary>
    /// The envelope of an unstamped inline send (see <see cref="EventBusOptions.StampInlineSends"/>): the options' message id or
    /// <see cref="MessageId.Empty"/>, no time, no trace context.
    /// </summary>
    internal static MessageContext Unstamped(string messageType, PublishOptions? options) =>
        new(options?.MessageId ?? default, messageType, 0, options, null);

    /// <summary>Gets the publisher's options, or the reply that holds them (what a stream entry keeps of the envelope).</summary>
    internal object? Extras => _extras;

    /// <summary>Gets the publisher's activity, whose context the envelope carries.</summary>
    internal Activity? Trace => _trace;

    /// <summary>Gets the reply the sender of a command awaits (<c>SendQueuedAsync</c>), or null.</summary>
    internal ReplySink? Reply => _extras as ReplySink;

    private PublishOptions? Options => OptionsOf(_extras);

    internal long OffsetPlusOne => _offsetPlusOne;

    /// <summary>
    /// Gets a value indicating whether this delivery will not be acknowledged as handled although its handler returned: the handler
    /// nacked or dead-lettered it through this context, or the bus already ended it. False for an envelope with no settlement.
    /// </summary>
    internal bool IsSettledAsFailure => _settlement?.IsFailed(_settlementVersion) ?? false;

    /// <summary>The publisher's options held by an envelope's extras: the options themselves, or the reply that holds them.</summary>
    internal static PublishOptions? OptionsOf(object? extras) => extras as PublishOptions ?? (extras as ReplySink)?.Options;

    internal MessageContext ForSubscription(string subscription) =>
        new(MessageId, MessageType, _timestampTicks, _extras, _trace, subscription, DeliveryCount, offsetPlusOne: _offsetPlusOne);

    internal MessageContext ForDelivery(string subscription, int deliveryCount, Settlement settlement, int version) =>
        new(MessageId, MessageType, _timestampTicks, _extras, _trace, subscription, deliveryCount, settlement, version, _offsetPlusOne);

    internal MessageContext WithDeliveryCount(int deliveryCount) =>
        new(MessageId, MessageType, _timestampTicks, _extras, _trace, Subscription, deliveryCount, offsetPlusOne: _offsetPlusOne);

    internal MessageContext WithOffset(long offset) =>
        new(MessageId, MessageType, _timestampTicks, _extras, _trace, Subscription, DeliveryCount, offsetPlusOne: offset + 1);

    /// <summary>A fresh envelope for a new round of attempts (a re-drive): same message id, values, trace and offset, delivery count 1.</summary>
    internal MessageContext ForRedrive() => new(MessageId, MessageType, _timestampTicks, _extras, _trace, offsetPlusOne: _offsetPlusOne);
}
