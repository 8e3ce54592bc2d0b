using System.Collections.Concurrent;
using EventBus;

namespace ModularMonolith.Scenario;

/// <summary>
/// Middleware around every delivery and every sent command: records each message's type, correlation and causation by
/// message id, so that the end of the demo can draw the causation tree of one order flow.
/// </summary>
internal sealed class FlowRecorder : IMessageMiddleware
{
    // Keyed by the message id's text form, which sorts like the ids: in publish order.
    private readonly ConcurrentDictionary<string, (string Type, string? CorrelationId, string? CausationId)> _seen = new();

    public ValueTask InvokeAsync<TMessage>(TMessage message, MessageContext context, Func<ValueTask> next, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(next);
        _seen.TryAdd(context.MessageId.ToString(), (typeof(TMessage).Name, context.CorrelationId, context.CausationId));
        return next();
    }

    /// <summary>Writes the messages of one flow as a tree: each message under the message that caused it.</summary>
    public void WriteTree(string correlationId)
    {
        var flow = _seen.Where(m => m.Value.CorrelationId == correlationId).ToDictionary();
        Console.WriteLine($"Causation tree of {correlationId} (message ids shortened to their last 6 hex digits):");

        // The flow's first messages were caused by a message outside the flow: the storefront's PlaceOrder command.
        var roots = flow.Where(m => m.Value.CausationId is null || !flow.ContainsKey(m.Value.CausationId)).OrderBy(m => m.Key, StringComparer.Ordinal);
        foreach (var group in roots.GroupBy(m => m.Value.CausationId))
        {
            var items = group.ToList();
            if (group.Key is { } causeId && _seen.TryGetValue(causeId, out var cause))
            {
                Console.WriteLine($"  {cause.Type} {Short(causeId)}  (sent by the storefront, before the flow had a correlation id)");
                for (var i = 0; i < items.Count; i++)
                {
                    var last = i == items.Count - 1;
                    WriteNode(items[i].Key, last ? "  `-- " : "  |-- ", last ? "      " : "  |   ");
                }
            }
            else
            {
                items.ForEach(item => WriteNode(item.Key, "  ", "  "));
            }
        }

        void WriteNode(string id, string prefix, string indent)
        {
            Console.WriteLine($"{prefix}{flow[id].Type} {Short(id)}");
            var children = flow.Where(m => m.Value.CausationId == id).Select(m => m.Key).Order(StringComparer.Ordinal).ToList();
            for (var i = 0; i < children.Count; i++)
            {
                var last = i == children.Count - 1;
                WriteNode(children[i], indent + (last ? "`-- " : "|-- "), indent + (last ? "    " : "|   "));
            }
        }
    }

    private static string Short(string id) => "#" + id[^6..];
}
