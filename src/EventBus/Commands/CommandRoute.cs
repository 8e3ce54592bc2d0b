using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus;

/// <summary>The single handler of one command type: sends inline (<c>SendAsync</c>) and feeds the command's queue (<c>EnqueueAsync</c>).</summary>
internal abstract class CommandRoute(InvokerContext context, Type commandType, Type resultType)
{
    public Type CommandType { get; } = commandType;

    /// <summary>Gets the handler's result type: <c>TResult</c> of the <see cref="CommandRoute{TResult}"/> this route is.</summary>
    public Type ResultType { get; } = resultType;

    public string Topic { get; } = MessageTypes.GetKey(commandType);

    public InvokerContext Context { get; } = context;

    /// <summary>An invoker for the command's queue: it throws <see cref="CommandRejectedException"/> on rejection so the worker reports it.</summary>
    public abstract HandlerInvoker CreateQueueInvoker();

    /// <summary>
    /// This route as the route of a send that expects <typeparamref name="TResult"/>; throws when its handler returns another
    /// type (a command type can implement <see cref="ICommand{TResult}"/> for two results).
    /// </summary>
    /// <exception cref="ArgumentException">The handler's result type is not <typeparamref name="TResult"/>.</exception>
    public CommandRoute<TResult> As<TResult>()
    {
        if (ResultType != typeof(TResult))
        {
            ThrowHelper.ThrowCommandResultMismatch(CommandType, ResultType, typeof(TResult));
        }

        // The check above is the cast: every route of a result type derives from CommandRoute<TResult> of that type (the
        // runtime's cast helper would walk the class hierarchy on every send).
        return Unsafe.As<CommandRoute<TResult>>(this);
    }
}

/// <summary>The route of a command whose result type is <typeparamref name="TResult"/>: what a send calls.</summary>
/// <typeparam name="TResult">The result type.</typeparam>
internal abstract class CommandRoute<TResult>(InvokerContext context, Type commandType) : CommandRoute(context, commandType, typeof(TResult))
{
    /// <summary>
    /// An inline send through <paramref name="bus"/> (<see cref="ICommandBus"/>): the bus's checks, then the handler on the
    /// caller's flow, with an envelope stamped or not per <see cref="EventBusOptions.StampInlineSends"/> (traced sends are
    /// stamped); a rejection, returned or thrown, is the result.
    /// </summary>
    public abstract ValueTask<CommandResult<TResult>> SendInlineAsync(CommandBus bus, object command, PublishOptions? options, CancellationToken cancellationToken);

    /// <summary>Runs the handler with a given envelope (an inline send, a queued command on its worker); a rejection is the result.</summary>
    public abstract ValueTask<CommandResult<TResult>> SendAsync(object command, in MessageContext context, CancellationToken cancellationToken);
}

/// <summary>Calls a resolved handler for a command.</summary>
internal delegate ValueTask<CommandResult<TResult>> CommandInvocation<in TCommand, TResult>(object handler, TCommand command, in MessageContext context, CancellationToken cancellationToken);

/// <summary>A handler's method for a command, bound to the handler.</summary>
internal delegate ValueTask<CommandResult<TResult>> BoundCommandHandler<in TCommand, TResult>(TCommand command, MessageContext context, CancellationToken cancellationToken);

/// <summary>How a route calls its handler: through <paramref name="Invoke"/> for a handler resolved per send, or bound once (<paramref name="Bind"/>) to a singleton.</summary>
internal sealed record CommandAdapter<TCommand, TResult>(CommandInvocation<TCommand, TResult> Invoke, Func<object, BoundCommandHandler<TCommand, TResult>> Bind);

internal sealed class CommandRoute<TCommand, TResult>(InvokerContext context, CommandAdapter<TCommand, TResult> adapter)
    : CommandRoute<TResult>(context, typeof(TCommand))
{
    private readonly bool _direct = !context.NeedsScope && context.Middleware.Length == 0;
    private object? _singleton;

    // The direct path's handler method, bound to the singleton on the first send: every reference-type command shares this
    // generic code, so a call through the handler interface here would be resolved by the runtime on every send (as for event
    // handlers). Null until then, and always for a route that needs a scope or runs middleware.
    private BoundCommandHandler<TCommand, TResult>? _handle;

    public override ValueTask<CommandResult<TResult>> SendInlineAsync(CommandBus bus, object command, PublishOptions? options, CancellationToken cancellationToken) =>
        SendTypedAsync(bus, MessageCast.As<TCommand>(command), options, cancellationToken);

    public override ValueTask<CommandResult<TResult>> SendAsync(object command, in MessageContext messageContext, CancellationToken cancellationToken) =>
        Send(MessageCast.As<TCommand>(command), messageContext, cancellationToken);

    /// <summary>
    /// An inline send: the checks of <paramref name="bus"/>'s inline send, then this route's send; a rejection, returned or
    /// thrown, is the result. A typed sender (<see cref="CommandSender{TCommand, TResult}"/>) calls it directly, with no
    /// lookup, cast, boxing or virtual call; the bus through <see cref="SendInlineAsync"/>.
    /// </summary>
    public ValueTask<CommandResult<TResult>> SendTypedAsync(CommandBus bus, TCommand command, PublishOptions? options, CancellationToken cancellationToken)
    {
        // The type test first: unoptimized code (a Debug build of the library) would box a struct command for the null test.
        if (!typeof(TCommand).IsValueType && command is null)
        {
            ThrowHelper.ThrowArgumentNull(nameof(command));
        }

        if (bus.BeginSend(Topic))
        {
            return bus.SendTracedAsync(this, command!, options, cancellationToken);
        }

        var pending = bus.StampInlineSends
            ? SendDirect(command, new StampedEnvelope(options, bus.TimeProvider), cancellationToken)
            : SendDirect(command, new UnstampedEnvelope(options), cancellationToken);
        // Rebuilt from its value rather than copied whole: see SendDirect.
        return pending.IsCompletedSuccessfully ? new(pending.Result) : pending;
    }

    private ValueTask<CommandResult<TResult>> Send(TCommand command, in MessageContext messageContext, CancellationToken cancellationToken)
    {
        if (_handle is null && _direct)
        {
            _handle = adapter.Bind(Singleton);
        }

        return _handle is not null
            ? SendDirect(command, new GivenEnvelope(messageContext), cancellationToken)
            : SendSlowAsync(command, messageContext, cancellationToken);
    }

    // Resolved lazily: resolving while the bus is being built would fail for handlers that depend on the bus.
    private object Singleton => _singleton ??= Context.Root.GetRequiredService(Context.HandlerType);

    public override HandlerInvoker CreateQueueInvoker() => new QueueInvoker(this);

    /// <summary>
    /// Calls the singleton's bound method (once bound; until then, and for a route that needs a scope or runs middleware,
    /// <c>Send</c>); a rejection, returned or thrown, is the result.
    /// </summary>
    /// <remarks>
    /// The envelope is made from <paramref name="envelope"/> where the handler takes it, and the handler's result is checked in
    /// place. A made envelope passed in instead is copied between frames, and so is the result when it is checked in another
    /// method (the runtime does not inline a method with a <c>catch</c>), which makes an unstamped send markedly slower
    /// (docs/benchmarks.md, <c>CommandRoundTrip.EventBus_SendUnstamped</c>).
    /// <para>
    /// A completed result is returned as a new <see cref="ValueTask{TResult}"/> built from its value, not as the handler's
    /// task: the handler writes its 32-byte task field by field, and the runtime copies a whole task with one 32-byte load,
    /// which the CPU cannot serve from those smaller stores, so it stalls until they reach the cache. Reading the fields one by
    /// one avoids the stall (the bus's send does the same; the measured effect is in docs/benchmarks.md).
    /// </para>
    /// </remarks>
    private ValueTask<CommandResult<TResult>> SendDirect<TEnvelope>(TCommand command, TEnvelope envelope, CancellationToken cancellationToken)
        where TEnvelope : struct, IEnvelopeSource
    {
        if (_handle is not { } handle)
        {
            return Send(command, envelope.Create(Topic), cancellationToken);
        }

        ValueTask<CommandResult<TResult>> pending;
        try
        {
            pending = handle(command, envelope.Create(Topic), cancellationToken);
        }
        catch (CommandRejectedException e)
        {
            return Rejected(e);
        }

        return pending.IsCompletedSuccessfully ? new(pending.Result) : AwaitRejectionAware(pending);
    }

    private static ValueTask<CommandResult<TResult>> Rejected(CommandRejectedException e) =>
        ValueTask.FromResult(CommandResult<TResult>.FromRejection(e.Rejection));

    private static async ValueTask<CommandResult<TResult>> AwaitRejectionAware(ValueTask<CommandResult<TResult>> pending)
    {
        try
        {
            return await pending.ConfigureAwait(false);
        }
        catch (CommandRejectedException e)
        {
            return e.Rejection;
        }
    }

    private async ValueTask<CommandResult<TResult>> SendSlowAsync(TCommand command, MessageContext messageContext, CancellationToken cancellationToken)
    {
        Activation<CommandResult<TResult>> activation;
        try
        {
            activation = await HandlerActivation.InvokeAsync(
                Context,
                Context.NeedsScope ? null : Singleton,
                command,
                messageContext,
                (command, messageContext, cancellationToken, adapter),
                static (handler, call) => call.adapter.Invoke(handler, call.command, call.messageContext, call.cancellationToken),
                cancellationToken).ConfigureAwait(false);
        }
        catch (CommandRejectedException e)
        {
            return e.Rejection;
        }

        return activation.Handled
            ? activation.Result
            : throw new InvalidOperationException($"A middleware did not call next for the command '{Topic}', so it has no result. To refuse a command from middleware, throw CommandRejectedException: the sender receives a rejection.");
    }

    /// <summary>
    /// Handles queued commands on the queue's workers. A sender awaiting the outcome (<c>SendQueuedAsync</c>) gets the result or
    /// the rejection; for an enqueued command nobody awaits, a rejection becomes an exception the worker reports.
    /// </summary>
    private sealed class QueueInvoker(CommandRoute<TCommand, TResult> route) : HandlerInvoker
    {
        public override ValueTask InvokeAsync(object message, MessageContext context, CancellationToken cancellationToken)
        {
            var pending = route.SendAsync(message, context, cancellationToken);
            return pending.IsCompletedSuccessfully ? Settle(pending.Result, context) : AwaitAsync(pending, context);
        }

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
        private static async ValueTask AwaitAsync(ValueTask<CommandResult<TResult>> pending, MessageContext context) =>
            await Settle(await pending.ConfigureAwait(false), context).ConfigureAwait(false);

        private static ValueTask Settle(CommandResult<TResult> result, in MessageContext context)
        {
            if (context.Reply is ReplySink<TResult> reply)
            {
                // The worker completes the reply when it finishes the delivery as a success. A handler that nacked or
                // dead-lettered the command is retried (and stages again) or reported instead; the sender waits for that.
                reply.Stage(result);
                return default;
            }

            return result.IsAccepted ? default : ValueTask.FromException(new CommandRejectedException(typeof(TCommand), result.Rejection));
        }
    }
}

/// <summary>Adapts <see cref="ICommandHandler{TCommand, TResult}"/> to <see cref="CommandAdapter{TCommand, TResult}"/>.</summary>
internal static class ResultCommandAdapter<TCommand, TResult>
    where TCommand : ICommand<TResult>
{
    public static readonly CommandAdapter<TCommand, TResult> Adapter = new(
        static (object handler, TCommand command, in MessageContext context, CancellationToken ct) => ((ICommandHandler<TCommand, TResult>)handler).HandleAsync(command, context, ct),
        static handler => ((ICommandHandler<TCommand, TResult>)handler).HandleAsync);
}

/// <summary>Adapts <see cref="ICommandHandler{TCommand}"/> (no result) to <see cref="CommandAdapter{TCommand, TResult}"/>.</summary>
internal static class VoidCommandAdapter<TCommand>
    where TCommand : ICommand
{
    public static readonly CommandAdapter<TCommand, VoidResult> Adapter = new(
        static (object handler, TCommand command, in MessageContext context, CancellationToken ct) => ToVoid(((ICommandHandler<TCommand>)handler).HandleAsync(command, context, ct)),
        static handler =>
        {
            Func<TCommand, MessageContext, CancellationToken, ValueTask<CommandResult>> handle = ((ICommandHandler<TCommand>)handler).HandleAsync;
            return (command, context, ct) => ToVoid(handle(command, context, ct));
        });

    private static CommandResult<VoidResult> Convert(CommandResult result) =>
        result.IsAccepted ? CommandResult<VoidResult>.Accept(default) : result.Rejection;

    private static ValueTask<CommandResult<VoidResult>> ToVoid(ValueTask<CommandResult> pending) =>
        pending.IsCompletedSuccessfully ? ValueTask.FromResult(Convert(pending.Result)) : AwaitAsync(pending);

    private static async ValueTask<CommandResult<VoidResult>> AwaitAsync(ValueTask<CommandResult> pending) =>
        Convert(await pending.ConfigureAwait(false));
}

/// <summary>Makes the envelope of a send where the handler takes it (see <c>CommandRoute{TCommand, TResult}.SendDirect</c>).</summary>
internal interface IEnvelopeSource
{
    MessageContext Create(string messageType);
}

/// <summary>The envelope of an unstamped inline send.</summary>
internal readonly struct UnstampedEnvelope(PublishOptions? options) : IEnvelopeSource
{
    public MessageContext Create(string messageType) => MessageContext.Unstamped(messageType, options);
}

/// <summary>The envelope of a stamped inline send.</summary>
internal readonly struct StampedEnvelope(PublishOptions? options, TimeProvider clock) : IEnvelopeSource
{
    public MessageContext Create(string messageType) => MessageContext.Stamped(messageType, options, null, clock);
}

/// <summary>An envelope made before (a traced send, a queued command on its worker).</summary>
internal readonly struct GivenEnvelope(MessageContext context) : IEnvelopeSource
{
    public MessageContext Create(string messageType) => context;
}
