using System.Collections;
using System.Globalization;

namespace EventBus;

/// <summary>
/// The logging scope of one delivery (<see cref="EventBusOptions.LogScopes"/>): the values that tie a handler's log entries to
/// its message, as the structured key-value pairs logging providers read from a scope's state.
/// </summary>
internal sealed class DeliveryLogScope(in MessageContext context) : IReadOnlyList<KeyValuePair<string, object?>>
{
    private readonly MessageId _messageId = context.MessageId;
    private readonly string _messageType = context.MessageType;
    private readonly string? _correlationId = context.CorrelationId;
    private readonly string? _subscription = context.Subscription;
    private readonly int _deliveryCount = context.DeliveryCount;

    public int Count => 5;

    public KeyValuePair<string, object?> this[int index] => index switch
    {
        0 => new("MessageId", _messageId.ToString()),
        1 => new("MessageType", _messageType),
        2 => new("CorrelationId", _correlationId),
        3 => new("Subscription", _subscription),
        4 => new("DeliveryCount", _deliveryCount),
        _ => throw new ArgumentOutOfRangeException(nameof(index)),
    };

    public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
    {
        for (var i = 0; i < Count; i++)
        {
            yield return this[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{_messageType} {_messageId} on {_subscription} (delivery {_deliveryCount})");
}
