using EventBus;
using Microsoft.Extensions.DependencyInjection;

// Register the bus and every handler in this assembly (as singletons, so the account keeps its balance).
await using var services = new ServiceCollection()
    .AddEventBus(bus => bus.AddHandlersFromAssemblyContaining<Program>(ServiceLifetime.Singleton))
    .BuildServiceProvider();

var control = services.GetRequiredService<IEventBusControl>();
await control.StartAsync(); // no generic host here, so start the workers yourself

// An event reaches every handler, each on its own worker; PublishAsync returns once the event is buffered.
await services.GetRequiredService<IEventBus>().PublishAsync(new UserRegistered("ada@example.com"));

// A command has exactly one handler, run inline; the outcome is a value or a rejection, not an exception.
var commands = services.GetRequiredService<ICommandBus>();
foreach (var amount in new[] { 30m, 500m, 50m })
{
    var result = await commands.SendAsync(new Withdraw(amount));
    Console.WriteLine(result.IsAccepted
        ? $"Withdraw {amount}: accepted, balance {result.Value}"
        : $"Withdraw {amount}: rejected, {result.Rejection.Reason} ({result.Rejection.Code})");
}

var report = await control.StopAsync(); // stop accepting, let the handlers finish what is buffered
Console.WriteLine($"Stopped: drained={report.Drained}, unfinished={report.Unfinished.Count}");

sealed record UserRegistered(string Email);

sealed class SendWelcomeEmail : IEventHandler<UserRegistered>
{
    public ValueTask HandleAsync(UserRegistered e, MessageContext context, CancellationToken ct)
    {
        Console.WriteLine($"SendWelcomeEmail: welcome mail sent to {e.Email}");
        return ValueTask.CompletedTask;
    }
}

sealed class AddToNewsletter : IEventHandler<UserRegistered>
{
    public ValueTask HandleAsync(UserRegistered e, MessageContext context, CancellationToken ct)
    {
        Console.WriteLine($"AddToNewsletter: {e.Email} subscribed");
        return ValueTask.CompletedTask;
    }
}

sealed record Withdraw(decimal Amount) : ICommand<decimal>;

sealed class WithdrawHandler : ICommandHandler<Withdraw, decimal>
{
    private decimal _balance = 100m;

    public ValueTask<CommandResult<decimal>> HandleAsync(Withdraw command, MessageContext context, CancellationToken ct)
    {
        if (command.Amount > _balance)
        {
            return ValueTask.FromResult<CommandResult<decimal>>(
                CommandResult.Reject($"the balance is {_balance}, less than {command.Amount}", "insufficient-funds"));
        }

        _balance -= command.Amount;
        return ValueTask.FromResult<CommandResult<decimal>>(_balance); // a TResult converts to an accepted result
    }
}
