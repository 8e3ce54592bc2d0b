using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus;

/// <summary>
/// Calls the handler of one delivery the one way every invoker does (events, batches, sent and queued commands): resolves it in a
/// new DI scope when its registration needs one (a singleton otherwise, from the root container), runs the middleware around it
/// (outermost first), and disposes the scope. The direct path of a singleton handler with no middleware does not come here.
/// </summary>
internal static class HandlerActivation
{
    /// <summary>
    /// Resolves the handler and calls <paramref name="handle"/> with it and <paramref name="state"/>, inside the middleware.
    /// </summary>
    /// <typeparam name="TMessage">The message type middleware sees (an event, a batch's list, a command).</typeparam>
    /// <typeparam name="TState">What the call needs besides the handler; a struct, so that the call allocates no closure.</typeparam>
    /// <typeparam name="TResult">What the handler returns.</typeparam>
    /// <param name="context">The handler's registration.</param>
    /// <param name="singleton">The handler already resolved from the root, for a registration that needs no scope; otherwise null.</param>
    /// <param name="message">The message, for middleware.</param>
    /// <param name="envelope">The delivery's envelope, for middleware.</param>
    /// <param name="state">Passed to <paramref name="handle"/>.</param>
    /// <param name="handle">Calls the resolved handler.</param>
    /// <param name="cancellationToken">The delivery's token, for middleware.</param>
    /// <returns>Whether the handler ran (a middleware skips it by not calling next), and what it returned.</returns>
    public static async ValueTask<Activation<TResult>> InvokeAsync<TMessage, TState, TResult>(
        InvokerContext context,
        object? singleton,
        TMessage message,
        MessageContext envelope,
        TState state,
        Func<object, TState, ValueTask<TResult>> handle,
        CancellationToken cancellationToken)
        where TState : struct
    {
        AsyncServiceScope? scope = context.NeedsScope ? context.ScopeFactory.CreateAsyncScope() : null;
        try
        {
            var services = scope?.ServiceProvider ?? context.Root;
            var handler = scope is null && singleton is not null ? singleton : services.GetRequiredService(context.HandlerType);
            if (context.Middleware.Length == 0)
            {
                return new(true, await handle(handler, state).ConfigureAwait(false));
            }

            var outcome = default(Activation<TResult>);
            await MiddlewarePipeline.RunAsync(services, context.Middleware, message, envelope, async () => outcome = new(true, await handle(handler, state).ConfigureAwait(false)), cancellationToken).ConfigureAwait(false);
            return outcome;
        }
        finally
        {
            if (scope is { } s)
            {
                await s.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>A handler's task that returns nothing, as one that returns <see langword="true"/> when it completes (no allocation when it already has).</summary>
    public static ValueTask<bool> Completed(ValueTask pending) => pending.IsCompletedSuccessfully ? new(true) : AwaitAsync(pending);

    /// <summary>Awaits an activation whose result the caller does not need.</summary>
    public static ValueTask Ignore<TResult>(ValueTask<Activation<TResult>> pending) => pending.IsCompletedSuccessfully ? default : IgnoreAsync(pending);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<bool> AwaitAsync(ValueTask pending)
    {
        await pending.ConfigureAwait(false);
        return true;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private static async ValueTask IgnoreAsync<TResult>(ValueTask<Activation<TResult>> pending) => await pending.ConfigureAwait(false);
}

/// <summary>Whether a handler ran (a middleware may skip it by not calling next) and what it returned.</summary>
internal readonly record struct Activation<TResult>(bool Handled, TResult Result);
