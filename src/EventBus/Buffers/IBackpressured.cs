namespace EventBus;

/// <summary>Something a publish may have to wait for: a subscription's buffer, or a consumer group's backlog.</summary>
internal interface IBackpressured
{
    string Name { get; }

    /// <summary>Waits until <paramref name="count"/> more messages fit, the bus stops, or <paramref name="cancellationToken"/> fires.</summary>
    Task WaitForRoomAsync(int count, CancellationToken cancellationToken);

    /// <summary>Whether the caller runs on the only worker that can make room (waiting would deadlock).</summary>
    bool IsCurrentWorker();
}
