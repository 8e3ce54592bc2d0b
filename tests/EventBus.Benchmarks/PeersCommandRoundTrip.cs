using BenchmarkDotNet.Attributes;
using EventBus.Benchmarks.Infrastructure;
using EventBus.Benchmarks.Peers;
using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Benchmarks;

/// <summary>
/// W4 against the peers: send a command and await its result, <see cref="N"/> times in sequence per invocation, with
/// Wolverine 6.62.0 (<c>InvokeAsync&lt;BenchReply&gt;</c>, inline) and MassTransit 8.5.12 (request client over the in-memory transport)
/// beside the raw channel + completion-source round trip and the bus's <c>SendAsync</c>. The batch is smaller than in
/// <see cref="CommandRoundTrip"/> so the slowest peer's invocation stays well under a second; time and bytes are per round trip.
/// </summary>
[MemoryDiagnoser]
public class PeersCommandRoundTrip
{
    /// <summary>Round trips per invocation.</summary>
    public const int N = 1_000;

    private readonly BenchCommand _command = new(41);
    private readonly BenchCommandHandler _handler = new();
    private RawCommandServer? _server;
    private BusFixture? _bus;
    private WolverinePeer? _wolverine;
    private MassTransitPeer? _massTransit;

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

    [GlobalSetup(Target = nameof(Wolverine_Invoke))]
    public async Task SetupWolverine() => _wolverine = await WolverinePeer.StartAsync();

    [GlobalCleanup(Target = nameof(Wolverine_Invoke))]
    public async Task CleanupWolverine() => await _wolverine!.DisposeAsync();

    [GlobalSetup(Target = nameof(MassTransit_Request))]
    public async Task SetupMassTransit() => _massTransit = await MassTransitPeer.StartAsync();

    [GlobalCleanup(Target = nameof(MassTransit_Request))]
    public async Task CleanupMassTransit() => await _massTransit!.DisposeAsync();

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
    public async Task<int> Wolverine_Invoke()
    {
        var bus = _wolverine!.Bus;
        var sum = 0;
        for (var i = 0; i < N; i++)
        {
            sum += (await bus.InvokeAsync<BenchReply>(_command)).Value;
        }

        return Check(sum);
    }

    [Benchmark(OperationsPerInvoke = N)]
    public async Task<int> MassTransit_Request()
    {
        var requests = _massTransit!.Requests;
        var sum = 0;
        for (var i = 0; i < N; i++)
        {
            var response = await requests.GetResponse<BenchReply>(_command);
            sum += response.Message.Value;
        }

        return Check(sum);
    }

    private static int Check(int sum) =>
        sum == N * 42 ? sum : throw new InvalidOperationException($"The round trips returned a total of {sum}; {N * 42} was expected.");
}
