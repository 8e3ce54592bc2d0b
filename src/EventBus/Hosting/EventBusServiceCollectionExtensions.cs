using EventBus.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace EventBus;

/// <summary>Registers the event bus in an <see cref="IServiceCollection"/>.</summary>
public static class EventBusServiceCollectionExtensions
{
    /// <summary>
    /// Adds the event bus: <see cref="IEventBus"/>, <see cref="ICommandBus"/>, <see cref="IEventBusControl"/>,
    /// <see cref="IDeadLetterQueue"/> and <see cref="IEventStreams"/> as one singleton, a typed sender per command type
    /// (<see cref="ICommandSender{TCommand, TResult}"/>, <see cref="ICommandSender{TCommand}"/>), an in-memory <see cref="IStreamOffsetStore"/>
    /// (register your own before or after to replace it),
    /// and a hosted service that starts it with the host and stops it (draining) when the host stops.
    /// Call it once; a second call adds to the same bus.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="configure">Registers handlers, middleware, topics and options.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddEventBus(this IServiceCollection services, Action<EventBusBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);

        var builder = services.LastOrDefault(d => d.ServiceType == typeof(EventBusBuilder))?.ImplementationInstance as EventBusBuilder;
        if (builder is null)
        {
            builder = new EventBusBuilder(services, new EventBusRegistry());
            services.AddSingleton(builder);
            services.AddSingleton(builder.Registry);

            // The options system builds EventBusOptions, so that Configure<EventBusOptions> calls (a configuration section
            // included) take effect; ValidateOnStart makes a generic host fail at start rather than on the bus's first use.
            services.AddOptions<EventBusOptions>().ValidateOnStart();
            services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EventBusOptions>, EventBusOptionsValidator>());
            services.TryAddSingleton<EventBusRuntime>();
            services.TryAddSingleton<IEventBus>(static sp => sp.GetRequiredService<EventBusRuntime>().Publisher);
            services.TryAddSingleton<ICommandBus>(static sp => sp.GetRequiredService<EventBusRuntime>().Commands);
            services.TryAddSingleton(static sp => sp.GetRequiredService<EventBusRuntime>().Commands);
            services.TryAddSingleton(typeof(ICommandSender<,>), typeof(CommandSender<,>));
            services.TryAddSingleton(typeof(ICommandSender<>), typeof(CommandSender<>));
            services.TryAddSingleton<IEventBusControl>(static sp => sp.GetRequiredService<EventBusRuntime>());
            services.TryAddSingleton<IDeadLetterQueue>(static sp => sp.GetRequiredService<EventBusRuntime>().DeadLetters);
            services.TryAddSingleton<IEventStreams>(static sp => sp.GetRequiredService<EventBusRuntime>().Streams);
            services.TryAddSingleton<IStreamOffsetStore, InMemoryStreamOffsetStore>();
            services.AddHostedService<EventBusHostedService>();
        }

        configure(builder);
        return services;
    }
}
