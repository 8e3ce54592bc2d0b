using EventBus;

namespace ModularMonolith.Notifications.Contracts;

/// <summary>Command to the Notifications module: send one email. Enqueued (fire and forget) and handled by a pool of workers.</summary>
public sealed record SendEmail(string To, string Subject) : ICommand;

/// <summary>Event: an email was sent.</summary>
public sealed record EmailSent(string To, string Subject);
