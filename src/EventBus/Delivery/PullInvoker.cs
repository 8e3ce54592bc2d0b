namespace EventBus;

/// <summary>
/// The invoker of a pull subscription, which has no handler: its readers take its events from its buffer, and no worker of the bus
/// delivers them. It marks the subscription as a pull subscription and is never called.
/// </summary>
internal sealed class PullInvoker : HandlerInvoker
{
    public static PullInvoker Instance { get; } = new();

    private PullInvoker()
    {
    }

    public override ValueTask InvokeAsync(object message, MessageContext context, CancellationToken cancellationToken) =>
        throw new InvalidOperationException("A pull subscription has no handler: its readers take its events.");
}
