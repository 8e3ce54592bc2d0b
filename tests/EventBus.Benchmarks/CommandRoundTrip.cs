using BenchmarkDotNet.Attributes;
using EventBus.Benchmarks.Infrastructure;
using EventBus.Benchmarks.Peers;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Benchmarks;

/// <summary>
/// W4: command round trip — send a command, have its handler run, await the result — <see cref="N"/> times in sequence per
/// invocation; the reported time and bytes are per round trip.
/// Baseline: a channel + <see cref="TaskCompletionSource{TResult}"/> round trip to a server loop. Other rows: a direct call of the
/// handler (the floor), the bus's <c>SendAsync</c> (which runs the handler inline on the caller's flow) and the source-generated
/// Mediator 3.0.2 <c>Send</c> (inline, singleton handler).
/// Target (issue 6): the bus's inline send within 2x of Mediator (EventBus_Send ratio / Mediator_Send ratio at most 2), and at
/// most one small allocation per round trip.
/// </summary>
[MemoryDiagnoser]
public class CommandRoundTrip
{
    /// <summary>Round trips per invocation.</summary>
    public const int N = 10_000;

    private readonly BenchCommand _command = new(41);
    private readonly BenchCommandHandler _handler = new();
    private readonly MediatorPing _ping = new(41);
    private RawCommandServer? _server;
    private BusFixture? _bus;
    private MediatorPeer? _mediator;

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel() => _server = new RawCommandServer();

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public async Task CleanupRawChannel() => await _server!.DisposeAsync();

    [GlobalSetup(Target = nameof(EventBus_Send))]
    public async Task SetupEventBus() =>
        _bus = await BusFixture.StartAsync(
            services => services.AddSingleton(_handler),
            bus => bus.AddCommandHandler<BenchCommand, int, BenchCommandHandler>(ServiceLifetime.Singleton));

    [GlobalCleanup(Target = nameof(EventBus_Send))]
    public async Task CleanupEventBus() => await _bus!.DisposeAsync();

    [GlobalSetup(Target = nameof(Mediator_Send))]
    public void SetupMediator() => _mediator = new MediatorPeer();

    [GlobalCleanup(Target = nameof(Mediator_Send))]
    public async Task CleanupMediator() => await _mediator!.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public async Task<int> RawChannel_Baseline()
    {
        var server = _server!;
        var sum = 0;
        for (var i = 0; i < N; i++)
        {
            sum += await server.SendAsync(_command);
        }

        return Check(sum);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public async Task<int> DirectCall()
    {
        var handler = _handler;
        var sum = 0;
        for (var i = 0; i < N; i++)
        {
            sum += (await handler.HandleAsync(_command, default, CancellationToken.None)).Value;
        }

        return Check(sum);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public async Task<int> EventBus_Send()
    {
        var bus = _bus!.Commands;
        var sum = 0;
        for (var i = 0; i < N; i++)
        {
            sum += (await bus.SendAsync(_command)).Value;
        }

        return Check(sum);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public async Task<int> Mediator_Send()
    {
        var mediator = _mediator!;
        var sum = 0;
        for (var i = 0; i < N; i++)
        {
            sum += await mediator.SendAsync(_ping);
        }

        return Check(sum);
    }

    // Every round trip must have returned the handler's result: 42 each.
    private static int Check(int sum) =>
        sum == N * 42 ? sum : throw new InvalidOperationException($"The round trips returned a total of {sum}; {N * 42} was expected.");
}
