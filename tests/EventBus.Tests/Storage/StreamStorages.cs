using Microsoft.Extensions.DependencyInjection;

namespace EventBus.Tests.Storage;

/// <summary>
/// The stream storages the stream test classes run against: each such class is abstract, with a nested class per storage that
/// passes its registration here. One suite, two implementations.
/// </summary>
public static class StreamStorages
{
    /// <summary>Gets the default: nothing registered, so streams keep their events in the in-memory segmented storage.</summary>
    public static Action<IServiceCollection> Segmented { get; } = static _ => { };

    /// <summary>Gets the tests' second storage (<see cref="ListStreamStorage"/>), which also checks the log's side of the contract.</summary>
    public static Action<IServiceCollection> List { get; } = static services => services.AddSingleton(ListStreamStorage.Factory);

    /// <summary>Combines a storage's registration with a test's own services.</summary>
    public static Action<IServiceCollection> With(this Action<IServiceCollection> storage, Action<IServiceCollection>? services) =>
        services is null ? storage : s =>
        {
            storage(s);
            services(s);
        };
}
