using System.Threading.Channels;

namespace EventBus.Benchmarks.Infrastructure;

/// <summary>
/// The raw round-trip baseline: a bounded channel of (command, completion source) pairs and one server loop that calls the
/// handler directly and completes the source. The client allocates one <see cref="TaskCompletionSource{TResult}"/> (and its
/// task) per round trip; that is the cost a queued request/response over a channel pays.
/// </summary>
public sealed class RawCommandServer : IAsyncDisposable
{
    private readonly Channel<Request> _channel = RawChannel.CreateBounded<Request>(singleReader: true);
    private readonly Task _loop;

    /// <summary>Initializes a new instance of the <see cref="RawCommandServer"/> class and starts its loop.</summary>
    public RawCommandServer() => _loop = Task.Run(ServeAsync);

    /// <summary>Sends a command to the server loop and returns the task of its result.</summary>
    /// <param name="command">The command.</param>
    /// <returns>The handler's result.</returns>
    /// <remarks>Not an async method, so a round trip allocates only the completion source and its task, not a state machine too.</remarks>
    public Task<int> SendAsync(BenchCommand command)
    {
        // Continuations run asynchronously, as a server loop must ensure: completing a reply never runs the client on the server's thread.
        var reply = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var request = new Request(command, reply);

        // A client that awaits each reply leaves at most one request in the channel, so the write always succeeds at once.
        return _channel.Writer.TryWrite(request) ? reply.Task : SendWhenRoomAsync(request);
    }

    /// <summary>Completes the channel and waits for the loop to end.</summary>
    /// <returns>A task that completes when the loop has ended.</returns>
    public async ValueTask DisposeAsync()
    {
        _channel.Writer.Complete();
        await _loop.ConfigureAwait(false);
    }

    private async Task ServeAsync()
    {
        var reader = _channel.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var request))
            {
                request.Reply.TrySetResult(BenchCommandHandler.Handle(request.Command));
            }
        }
    }

    private async Task<int> SendWhenRoomAsync(Request request)
    {
        await _channel.Writer.WriteAsync(request).ConfigureAwait(false);
        return await request.Reply.Task.ConfigureAwait(false);
    }

    private readonly record struct Request(BenchCommand Command, TaskCompletionSource<int> Reply);
}
