using EventBus;
using ModularMonolith.Notifications.Contracts;

namespace ModularMonolith.Scenario;

/// <summary>The demo's own subscription to <see cref="EmailSent"/>: every order flow ends with an email, so counting them tells when all the work is done.</summary>
internal sealed class CountSentEmails(ScenarioProgress progress) : IEventHandler<EmailSent>
{
    public ValueTask HandleAsync(EmailSent email, MessageContext context, CancellationToken cancellationToken)
    {
        progress.EmailSent();
        return ValueTask.CompletedTask;
    }
}
