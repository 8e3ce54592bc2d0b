using EventBus.Tests.Infrastructure;

namespace EventBus.Tests.Streams;

/// <summary>One report of <see cref="IEventBusObserver.OnStreamEventsSkipped"/>, compared by value.</summary>
internal sealed record SkippedEvents(string Topic, string Group, long FromOffset, long Count, string Reason);

/// <summary>
/// An observer that records every run of stream events a consumer group skipped, in the order the bus reports them. Register it
/// with <c>services.AddSingleton&lt;IEventBusObserver&gt;(skips)</c>.
/// </summary>
internal sealed class SkipRecorder : Recorder<SkippedEvents>, IEventBusObserver
{
    public void OnStreamEventsSkipped(string topic, string group, long fromOffset, long count, string reason) =>
        Add(new SkippedEvents(topic, group, fromOffset, count, reason));
}
