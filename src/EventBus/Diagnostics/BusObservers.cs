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

    public void Published(object message, in MessageContext context)
    {
        foreach (var observer in _observers)
        {
            try
            {
                observer.OnPublished(message, context);
            }
            catch (Exception e)
            {
                Failed(observer, nameof(IEventBusObserver.OnPublished), e);
            }
        }
    }

    public void Handled(object message, in MessageContext context)
    {
        foreach (var observer in _observers)
        {
            try
            {
                observer.OnHandled(message, context);
            }
            catch (Exception e)
            {
                Failed(observer, nameof(IEventBusObserver.OnHandled), e);
            }
        }
    }

    public void AttemptFailed(object message, in MessageContext context, Exception? exception)
    {
        foreach (var observer in _observers)
        {
            try
            {
                observer.OnFailed(message, context, exception);
            }
            catch (Exception e)
            {
                Failed(observer, nameof(IEventBusObserver.OnFailed), e);
            }
        }
    }

    public void Undelivered(UndeliveredMessage message)
    {
        foreach (var observer in _observers)
        {
            try
            {
                observer.OnUndelivered(message);
            }
            catch (Exception e)
            {
                Failed(observer, nameof(IEventBusObserver.OnUndelivered), e);
            }
        }
    }

    public void StreamEventsSkipped(string topic, string group, long fromOffset, long count, string reason)
    {
        foreach (var observer in _observers)
        {
            try
            {
                observer.OnStreamEventsSkipped(topic, group, fromOffset, count, reason);
            }
            catch (Exception e)
            {
                Failed(observer, nameof(IEventBusObserver.OnStreamEventsSkipped), e);
            }
        }
    }

    private void Failed(IEventBusObserver observer, string method, Exception exception) =>
        Log.ObserverFailed(logger, observer.GetType().FullName ?? observer.GetType().Name, method, exception);
}
