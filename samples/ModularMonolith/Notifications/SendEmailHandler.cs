using EventBus;
using ModularMonolith.Notifications.Contracts;
using ModularMonolith.Shared;

namespace ModularMonolith.Notifications;

/// <summary>
/// Handles the mail queue. Its subscription is configured in Program.cs as a queue with 3 competing workers: each
/// <see cref="SendEmail"/> goes to exactly one of them, so up to 3 emails are being sent at the same time.
/// </summary>
internal sealed class SendEmailHandler(MailServer mailServer, IEventBus events) : ICommandHandler<SendEmail>
{
    public async ValueTask<CommandResult> HandleAsync(SendEmail email, MessageContext context, CancellationToken cancellationToken)
    {
        var (startedAtMs, sending) = await mailServer.SendAsync(cancellationToken);
        Trace.Write("Notifications", $"sent \"{email.Subject}\" (at +{startedAtMs,3} ms, {sending} of 3 workers busy)", context);
        await events.PublishAsync(new EmailSent(email.To, email.Subject), PublishOptions.CausedBy(context), cancellationToken);
        return CommandResult.Accepted;
    }
}
