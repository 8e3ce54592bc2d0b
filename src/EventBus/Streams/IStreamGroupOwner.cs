namespace EventBus;

/// <summary>What a consumer group needs from the streams that own it: the offset store, and to be forgotten once it stopped.</summary>
internal interface IStreamGroupOwner
{
    /// <summary>Gets the store of committed offsets.</summary>
    IStreamOffsetStore OffsetStore { get; }

    /// <summary>Called once when the group has stopped and left its stream.</summary>
    void OnGroupStopped(StreamConsumer consumer);
}
