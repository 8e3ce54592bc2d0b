using MassTransit;

namespace EventBus.Benchmarks;

/// <summary>
/// W4 against the peers: send a command and await its result, <see cref="N"/> times in sequence per invocation, with
/// Wolverine 6.62.0 (<c>InvokeAsync&lt;BenchReply&gt;</c>, inline) and MassTransit 8.5.12 (request client over the in-memory transport)
/// beside the raw channel + completion-source round trip and the bus's <c>SendAsync</c>. The batch is smaller than in
/// <see cref="CommandRoundTrip"/> so the slowest peer's invocation stays well under a second; time and bytes are per round trip.
/// </summary>
[MemoryDiagnoser]
public class PeersCommandRoundTrip() : CommandWorkload(N)
{
    /// <summary>Round trips per invocation.</summary>
    public const int N = 1_000;

    private WolverinePeer? _wolverine;
    private MassTransitPeer? _massTransit;

    [GlobalSetup(Target = nameof(RawChannel_Baseline))]
    public void SetupRawChannel() => StartRawServer();

    [GlobalCleanup(Target = nameof(RawChannel_Baseline))]
    public Task CleanupRawChannel() => StopRawServerAsync();

    [GlobalSetup(Target = nameof(EventBus_Send))]
    public Task SetupEventBus() => StartBusAsync();

    [GlobalCleanup(Target = nameof(EventBus_Send))]
    public Task CleanupEventBus() => StopBusAsync();

    [GlobalSetup(Target = nameof(Wolverine_Invoke))]
    public async Task SetupWolverine() => _wolverine = await WolverinePeer.StartAsync();

    [GlobalCleanup(Target = nameof(Wolverine_Invoke))]
    public async Task CleanupWolverine() => await _wolverine!.DisposeAsync();

    [GlobalSetup(Target = nameof(MassTransit_Request))]
    public async Task SetupMassTransit() => _massTransit = await MassTransitPeer.StartAsync();

    [GlobalCleanup(Target = nameof(MassTransit_Request))]
    public async Task CleanupMassTransit() => await _massTransit!.DisposeAsync();

    [Benchmark(Baseline = true, OperationsPerInvoke = N)]
    public Task<int> RawChannel_Baseline() => RoundTripsAsync<RawServerSender, int>(new(RawServer, Command));

    [Benchmark(OperationsPerInvoke = N)]
    public Task<int> EventBus_Send() => RoundTripsAsync<BusSender, CommandResult<int>>(new(Bus.Commands, Command));

    [Benchmark(OperationsPerInvoke = N)]
    public Task<int> Wolverine_Invoke() => RoundTripsAsync<WolverineSender, BenchReply>(new(_wolverine!.Bus, Command));

    [Benchmark(OperationsPerInvoke = N)]
    public Task<int> MassTransit_Request() => RoundTripsAsync<MassTransitSender, Response<BenchReply>>(new(_massTransit!.Requests, Command));
}
