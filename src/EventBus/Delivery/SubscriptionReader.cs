using System.Diagnostics;
using System.Threading.Channels;

namespace EventBus;

/// <summary>
/// The <see cref="ChannelReader{T}"/> of a pull subscription (<see cref="IEventBus.GetReader{TEvent}(string)"/>): it reads the
/// subscription's own buffer, so there is one bounded buffer between publishers and readers, and one full policy.
/// </summary>
/// <typeparam name="TEvent">The topic's event type.</typeparam>
[DebuggerDisplay("ChannelReader of pull subscription {_subscription.Name,nq}: {Count} unread")]
internal sealed class SubscriptionReader<TEvent>(Subscription subscription) : ChannelReader<StreamEvent<TEvent>>
{
    private readonly Subscription _subscription = subscription;

    public override Task Completion => _subscription.PullCompletion;

    public override bool CanCount => true;

    public override int Count => _subscription.Depth;

    public override bool TryRead(out StreamEvent<TEvent> item)
    {
        if (_subscription.TryTake(out var message, out var context))
        {
            item = new StreamEvent<TEvent>(MessageCast.As<TEvent>(message), context);
            return true;
        }

        item = default;
        return false;
    }

    public override ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken = default) => _subscription.WaitToReadAsync(cancellationToken);
}
