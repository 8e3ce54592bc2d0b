using System.Globalization;
using System.Text;

namespace EventBus;

/// <summary>What the bus is wired to do: its topics, their subscriptions and options, and its commands. From <see cref="IEventBusControl.DescribeTopology"/>.</summary>
/// <param name="Topics">
/// The topics, ordered by name. A handler of an interface or base type appears under a topic named after that type, marked
/// <see cref="TopicDescription.IsPolymorphic"/>. Each command type is a topic marked <see cref="TopicDescription.IsCommand"/>
/// whose one subscription is its handler (and its queue, for enqueued commands).
/// </param>
public sealed record BusTopology(IReadOnlyList<TopicDescription> Topics)
{
    /// <summary>
    /// Renders the topology as a Mermaid flowchart: a subgraph per namespace (a module of a modular monolith), a node per event
    /// topic, command and handler, and an edge from each topic to its handlers labelled with the delivery mode, and from each
    /// command to its handler.
    /// </summary>
    /// <returns>The Mermaid source, deterministic for a given topology (ready for a Markdown <c>```mermaid</c> block).</returns>
    public string ToMermaid()
    {
        var nodes = new SortedDictionary<string, SortedDictionary<string, string>>(StringComparer.Ordinal); // module -> id -> node
        var edges = new List<string>();
        // A command is drawn once, as a command node with an edge to its handler; its queue (for EnqueueAsync) stays in the data model.
        foreach (var topic in Topics.Where(t => !t.IsCommand))
        {
            var topicId = Id("t", topic.MessageType);
            Add(nodes, topic.MessageType, topicId, topic.IsPolymorphic ? $"{topicId}[/\"{Label(topic.MessageType)} (and derived)\"/]"
                : topic.IsStream ? $"{topicId}[(\"{Label(topic.MessageType)} stream\")]"
                : $"{topicId}([\"{Label(topic.MessageType)}\"])");
            foreach (var group in topic.Groups ?? [])
            {
                var handlerId = Id("h", group.HandlerType);
                Add(nodes, group.HandlerType, handlerId, $"{handlerId}[\"{Label(group.HandlerType)}\"]");
                var mode = group.Workers > 1 ? $"group {group.Name}, key-ordered x{group.Workers}" : $"group {group.Name}";
                edges.Add($"  {topicId} -->|{mode.Replace("\"", "'", StringComparison.Ordinal).Replace("|", "/", StringComparison.Ordinal)}| {handlerId}");
            }

            foreach (var subscription in topic.Subscriptions)
            {
                if (IsPullReader(subscription.HandlerType))
                {
                    // A pull subscription has no handler type: its node is its name, in the topic's module.
                    var readerId = $"{Id("p", topic.MessageType)}_{Sanitize(subscription.Name)}";
                    Add(nodes, topic.MessageType, readerId, $"{readerId}[\"{subscription.Name.Replace("\"", "'", StringComparison.Ordinal)} (reader)\"]");
                    edges.Add($"  {topicId} -->|pull| {readerId}");
                    continue;
                }

                var handlerId = Id("h", subscription.HandlerType);
                Add(nodes, subscription.HandlerType, handlerId, $"{handlerId}[\"{Label(subscription.HandlerType)}\"]");
                var mode = subscription.IsBatch ? "batch" : subscription.Mode switch
                {
                    DeliveryMode.Queue => $"queue x{subscription.Workers}",
                    DeliveryMode.KeyOrdered => $"key-ordered x{subscription.Workers}",
                    _ => "broadcast",
                };
                edges.Add($"  {topicId} -->|{mode}| {handlerId}");
            }
        }

        foreach (var command in Topics.Where(t => t.IsCommand))
        {
            var handler = command.Subscriptions[0].HandlerType;
            var commandId = Id("c", command.MessageType);
            var handlerId = Id("h", handler);
            Add(nodes, command.MessageType, commandId, $"{commandId}{{{{\"{Label(command.MessageType)}\"}}}}");
            Add(nodes, handler, handlerId, $"{handlerId}[\"{Label(handler)}\"]");
            edges.Add($"  {commandId} -->|command| {handlerId}");
        }

        var text = new StringBuilder("flowchart LR\n");
        var moduleIndex = 0;
        foreach (var (module, moduleNodes) in nodes)
        {
            text.Append(CultureInfo.InvariantCulture, $"  subgraph m{moduleIndex++}[\"{module}\"]\n");
            foreach (var node in moduleNodes.Values)
            {
                text.Append("    ").Append(node).Append('\n');
            }

            text.Append("  end\n");
        }

        foreach (var edge in edges.Distinct().Order(StringComparer.Ordinal))
        {
            text.Append(edge).Append('\n');
        }

        return text.ToString();
    }

    /// <inheritdoc />
    public override string ToString() => $"{Topics.Count} topic(s), {Topics.Sum(t => t.Subscriptions.Count)} subscription(s), {Topics.Count(t => t.IsCommand)} command(s)";

    private static void Add(SortedDictionary<string, SortedDictionary<string, string>> nodes, Type type, string id, string node)
    {
        var module = type.Namespace ?? "(global)";
        if (!nodes.TryGetValue(module, out var moduleNodes))
        {
            nodes[module] = moduleNodes = new SortedDictionary<string, string>(StringComparer.Ordinal);
        }

        moduleNodes[id] = node;
    }

    private static string Label(Type type) =>
        (type.IsNested ? type.FullName![(type.Namespace is null ? 0 : type.Namespace.Length + 1)..].Replace('+', '.') : type.Name).Replace("\"", "'", StringComparison.Ordinal);

    private static string Id(string prefix, Type type) => $"{prefix}_{Sanitize(type.FullName ?? type.Name)}";

    private static string Sanitize(string text)
    {
        var name = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            name.Append(char.IsAsciiLetterOrDigit(c) ? c : '_');
        }

        return name.ToString();
    }

    /// <summary>Whether a subscription's "handler type" is the reader of a pull subscription (<see cref="EventBusBuilder.AddPullSubscription{TEvent}(string, Action{SubscriptionOptions}?)"/>).</summary>
    private static bool IsPullReader(Type handlerType) =>
        handlerType.IsGenericType && handlerType.GetGenericTypeDefinition() == typeof(System.Threading.Channels.ChannelReader<>);
}

/// <summary>One topic (message type) and its subscriptions.</summary>
/// <param name="Name">The topic name (message-type key).</param>
/// <param name="MessageType">The message type.</param>
/// <param name="IsCommand">Whether this is the queue of an enqueued command.</param>
/// <param name="IsPolymorphic">Whether the type is an interface or base type whose handlers also receive derived messages (each concrete type gets a topic of its own on first publish).</param>
/// <param name="Subscriptions">The subscriptions, ordered by name.</param>
/// <param name="IsStream">Whether the topic keeps its events in a stream.</param>
/// <param name="Groups">
/// The consumer groups registered on the stream with the builder, ordered by name, described in the subscriptions' vocabulary:
/// the name is the group's, the mode <see cref="DeliveryMode.Broadcast"/> (one worker, offset order) or
/// <see cref="DeliveryMode.KeyOrdered"/>, the capacity its backlog limit. Groups started at run time are listed by
/// <see cref="IEventStreams.GetStreamInfo{TEvent}"/>.
/// </param>
public sealed record TopicDescription(string Name, Type MessageType, bool IsCommand, bool IsPolymorphic, IReadOnlyList<SubscriptionDescription> Subscriptions, bool IsStream = false, IReadOnlyList<SubscriptionDescription>? Groups = null);

/// <summary>One subscription: a handler on a topic, with its effective options.</summary>
/// <param name="Name">The subscription name (the handler type's full name).</param>
/// <param name="HandlerType">The handler type.</param>
/// <param name="Mode">The delivery mode.</param>
/// <param name="Workers">The number of workers.</param>
/// <param name="Capacity">The buffer capacity.</param>
/// <param name="FullPolicy">The full policy.</param>
/// <param name="MaxDeliveries">The redelivery policy's attempt count.</param>
/// <param name="HandlerTimeout">The handler timeout, if any.</param>
/// <param name="AckMode">When messages are acknowledged.</param>
/// <param name="IsBatch">Whether the handler is an <see cref="IBatchEventHandler{TEvent}"/>.</param>
public sealed record SubscriptionDescription(string Name, Type HandlerType, DeliveryMode Mode, int Workers, int Capacity, FullPolicy FullPolicy, int MaxDeliveries, TimeSpan? HandlerTimeout, AckMode AckMode, bool IsBatch);

/// <summary>The state of a subscription's or consumer group's workers.</summary>
public enum SubscriptionState
{
    /// <summary>The bus has not started.</summary>
    NotStarted = 0,

    /// <summary>The workers run.</summary>
    Running = 1,

    /// <summary>The bus stopped and the workers exited (a consumer group's also when it was disposed, or before it ever ran).</summary>
    Stopped = 2,

    /// <summary>
    /// A worker ended with an unexpected error (a bug in the bus); messages of this subscription are no longer handled. A consumer
    /// group is faulted once it stopped on a failure (<see cref="ConsumerGroupOptions.StopOnFailure"/>) or an error: its
    /// <see cref="IStreamSubscription.Completion"/> faults with it.
    /// </summary>
    Faulted = 3,
}
