namespace EventBus.Tests.Infrastructure;

/// <summary>
/// The tests whose outcome depends on whether an <c>ActivityListener</c> listens to the bus's process-wide source: the tracing
/// tests add listeners, and an inline send with <see cref="EventBusOptions.StampInlineSends"/> off is stamped all the same
/// while one listens. The classes of this collection run one after the other; other collections still run beside them.
/// </summary>
[CollectionDefinition(nameof(ActivityListenerCollection))]
public sealed class ActivityListenerCollection;
