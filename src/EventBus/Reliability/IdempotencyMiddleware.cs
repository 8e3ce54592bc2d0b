using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace EventBus;

/// <summary>
/// Skips a subscription's handler for a message id it already handled successfully within the window: for handlers that must
/// not run twice when a message is redelivered, re-driven or published again with the same id (an outbox replay).
/// </summary>
/// <remarks>
/// <para>
/// Each delivery claims its (subscription, message id) in the <see cref="IIdempotencyStore"/> before the handler runs: a copy that
/// arrives while another copy is being handled waits for that copy's outcome, and is skipped when it was handled or runs when it
/// was not. An id is remembered only when the handler returned and did not nack or dead-letter the delivery, so that a redelivery
/// of a failed message runs.
/// </para>
/// <para>Inline <c>SendAsync</c> calls are not de-duplicated: they have no subscription and the caller sees the outcome.</para>
/// </remarks>
internal sealed class IdempotencyMiddleware : IMessageMiddleware
{
    private readonly IIdempotencyStore _store;
    private readonly ILogger _logger;

    public IdempotencyMiddleware(IIdempotencyStore store, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        _store = store;
        _logger = (ILogger?)loggerFactory?.CreateLogger("EventBus") ?? NullLogger.Instance;
    }

    public ValueTask InvokeAsync<TMessage>(TMessage message, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(next);
        return context.Subscription is { } subscription ? InvokeOnceAsync(subscription, context, next, cancellationToken) : next();
    }

    private async ValueTask InvokeOnceAsync(string subscription, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken)
    {
        // The wait for a copy in progress honours the delivery's token: a handler timeout or the stop ends it as a failed attempt.
        if (!await _store.TryBeginAsync(subscription, context.MessageId, cancellationToken).ConfigureAwait(false))
        {
            Log.DuplicateSkipped(_logger, subscription, context.MessageType, context.MessageId);
            return;
        }

        var handled = false;
        try
        {
            await next().ConfigureAwait(false);

            // A nack or dead-letter through the context is a failure the worker acts on once the pipeline returns: the id must
            // stay free for the redelivery (or a re-drive).
            handled = !context.IsSettledAsFailure;
        }
        finally
        {
            // Not the delivery's token: a cancelled or timed-out handler must still release its claim, or its copies would wait.
            await _store.EndAsync(subscription, context.MessageId, handled, CancellationToken.None).ConfigureAwait(false);
        }
    }
}
