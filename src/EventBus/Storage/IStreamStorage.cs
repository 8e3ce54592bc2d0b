namespace EventBus;

/// <summary>
/// Where a stream keeps its events: records by offset. The stream's log owns everything else: it
/// numbers the records, publishes the head to readers, decides retention, and holds publishers back for its consumer groups, so
/// a storage (in memory, a durable log, a broker's) keeps records and reads them back, and nothing more.
/// </summary>
/// <remarks>
/// <para>The contract, which <c>StreamStorageContract</c> in the tests checks against every implementation:</para>
/// <list type="bullet">
/// <item><description>Every method but a reader's <see cref="IStreamStorageReader.TryRead"/> is called under the stream's lock (the
/// one the storage was created with), so a storage needs no locking of its own for them.</description></item>
/// <item><description><see cref="Append"/> gets dense offsets from 0, one at a time, in order.</description></item>
/// <item><description>A record appended and not trimmed reads back unchanged, through any reader, at any offset below the last
/// appended one plus one: readers move forward mostly, but may jump anywhere.</description></item>
/// <item><description>After <see cref="Trim"/>, a read below the new start returns <see langword="false"/>, except for records a
/// reader is standing on: a storage may keep returning what it already holds for a reader (delivering a trimmed event loses
/// nothing), and frees the memory once no reader needs it.</description></item>
/// <item><description>Readers read concurrently with appends and trims, each reader from one thread at a time. The log only reads
/// offsets it has published, so a reader never races the append of the record it reads.</description></item>
/// </list>
/// </remarks>
internal interface IStreamStorage
{
    /// <summary>Under the stream's lock: keeps <paramref name="record"/> at <paramref name="offset"/>, the next offset.</summary>
    void Append(long offset, in StreamRecord record);

    /// <summary>Under the stream's lock: the records below <paramref name="start"/> are no longer retained.</summary>
    void Trim(long start);

    /// <summary>
    /// Under the stream's lock: the first offset in [<paramref name="from"/>, <paramref name="to"/>) whose timestamp is at or after
    /// <paramref name="ticks"/>, or <paramref name="to"/>. Timestamps grow with offsets, up to publishers racing by microseconds.
    /// </summary>
    long FindTimestamp(long from, long to, long ticks);

    /// <summary>Under the stream's lock: the timestamp of the retained record at <paramref name="offset"/>.</summary>
    long TimestampAt(long offset);

    /// <summary>Under the stream's lock: opens a reader positioned for <paramref name="offset"/> (at or after the start).</summary>
    IStreamStorageReader OpenReader(long offset);
}

/// <summary>One reader's access to a <see cref="IStreamStorage"/>: a consumer group's, or a replay's.</summary>
internal interface IStreamStorageReader
{
    /// <summary>
    /// Without the stream's lock, from one thread at a time: reads the record at <paramref name="offset"/>, which the log has
    /// published. Returns <see langword="false"/> when it was trimmed (see the contract on <see cref="IStreamStorage"/>).
    /// </summary>
    bool TryRead(long offset, out StreamRecord record);

    /// <summary>Under the stream's lock: closes the reader; the storage may free what only it was reading.</summary>
    void Close();
}

/// <summary>Creates the storage of each stream. The default keeps events in memory (<see cref="SegmentedStreamStorage"/>).</summary>
internal interface IStreamStorageFactory
{
    /// <summary>Creates the storage of the stream of <paramref name="topic"/>, whose writes hold <paramref name="streamLock"/>.</summary>
    IStreamStorage Create(string topic, Lock streamLock);
}
