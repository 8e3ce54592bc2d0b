using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace EventBus;

/// <summary>
/// Skips a subscription's handler for a message id it already handled successfully within the window: for handlers that must
/// not run twice when a message is redelivered, re-driven or published again with the same id (an outbox replay).
/// </summary>
/// <remarks>
/// Ids are remembered after success only, per subscription, in memory (bounded by <see cref="IdempotencyOptions.MaxEntries"/>).
/// Inline <c>SendAsync</c> calls are not de-duplicated: they have no subscription and the caller sees the outcome.
/// </remarks>
internal sealed class IdempotencyMiddleware : IMessageMiddleware
{
    private readonly Dictionary<(string Subscription, MessageId Id), long> _seen = [];
    private readonly Queue<((string Subscription, MessageId Id) Key, long Expires)> _order = new();
    private readonly IdempotencyOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;

    public IdempotencyMiddleware(IdempotencyOptions options, TimeProvider? timeProvider = null, ILoggerFactory? loggerFactory = null)
    {
        var failures = options.Validate().ToList();
        if (failures.Count > 0)
        {
            throw new OptionsValidationException(Microsoft.Extensions.Options.Options.DefaultName, typeof(IdempotencyOptions), failures);
        }

        _options = options;
        _time = timeProvider ?? TimeProvider.System;
        _logger = (ILogger?)loggerFactory?.CreateLogger("EventBus") ?? NullLogger.Instance;
    }

    public async ValueTask InvokeAsync<TMessage>(TMessage message, MessageContext context, MessageHandlerDelegate next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(next);
        if (context.Subscription is not { } subscription)
        {
            await next().ConfigureAwait(false);
            return;
        }

        var key = (subscription, context.MessageId);
        var now = _time.GetUtcNow().UtcTicks;
        lock (_seen)
        {
            if (_seen.TryGetValue(key, out var expires) && expires > now)
            {
                Log.DuplicateSkipped(_logger, subscription, context.MessageType, context.MessageId);
                return;
            }
        }

        await next().ConfigureAwait(false);

        var expiry = _time.GetUtcNow().UtcTicks + _options.Window.Ticks;
        lock (_seen)
        {
            _seen[key] = expiry;
            _order.Enqueue((key, expiry));

            // Forget expired ids, and the oldest ones past the bound. An id re-remembered later has a newer queue entry, so an
            // older entry only removes it when its stored expiry is the entry's own.
            while (_order.TryPeek(out var oldest) && (oldest.Expires <= now || _seen.Count > _options.MaxEntries))
            {
                _order.Dequeue();
                if (_seen.TryGetValue(oldest.Key, out var stored) && stored == oldest.Expires)
                {
                    _seen.Remove(oldest.Key);
                }
            }
        }
    }
}
