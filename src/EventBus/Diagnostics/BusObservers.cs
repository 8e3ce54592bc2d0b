using Microsoft.Extensions.Logging;

namespace EventBus;

/// <summary>
/// The observers of one bus (<see cref="IEventBusObserver"/>), called in registration order; one that throws is logged and the
/// others are still called. Callers check <see cref="Any"/> first, so that a bus with no observer builds no envelope for them.
/// </summary>
internal sealed class BusObservers(ILogger logger)
{
    private IEventBusObserver[] _observers = [];

    /// <summary>Gets a value indicating whether any observer is registered.</summary>
    public bool Any => _observers.Length != 0;

    /// <summary>Adds an observer while the bus is built, before anything can be published.</summary>
    public void Add(IEventBusObserver observer) => _observers = [.. _observers, observer];

    public void Published(object message, in MessageContext context) =>
        Notify((message, context), nameof(IEventBusObserver.OnPublished), static (o, s) => o.OnPublished(s.message, s.context));

    public void Handled(object message, in MessageContext context) =>
        Notify((message, context), nameof(IEventBusObserver.OnHandled), static (o, s) => o.OnHandled(s.message, s.context));

    public void AttemptFailed(object message, in MessageContext context, Exception? exception) =>
        Notify((message, context, exception), nameof(IEventBusObserver.OnFailed), static (o, s) => o.OnFailed(s.message, s.context, s.exception));

    public void Undelivered(UndeliveredMessage message) =>
        Notify(message, nameof(IEventBusObserver.OnUndelivered), static (o, m) => o.OnUndelivered(m));

    public void StreamEventsSkipped(string topic, string group, long fromOffset, long count, string reason) =>
        Notify((topic, group, fromOffset, count, reason), nameof(IEventBusObserver.OnStreamEventsSkipped), static (o, s) => o.OnStreamEventsSkipped(s.topic, s.group, s.fromOffset, s.count, s.reason));

    /// <summary>Calls every observer in registration order; one that throws is logged and the others still run.</summary>
    /// <remarks>The arguments travel as a struct and the calls are static lambdas: notifying allocates nothing.</remarks>
    private void Notify<TState>(TState state, string method, Action<IEventBusObserver, TState> call)
    {
        foreach (var observer in _observers)
        {
            try
            {
                call(observer, state);
            }
            catch (Exception e)
            {
                Failed(observer, method, e);
            }
        }
    }

    private void Failed(IEventBusObserver observer, string method, Exception exception) =>
        Log.ObserverFailed(logger, observer.GetType().FullName ?? observer.GetType().Name, method, exception);
}
