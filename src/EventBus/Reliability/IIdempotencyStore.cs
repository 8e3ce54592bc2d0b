namespace EventBus;

/// <summary>
/// Where the idempotency helper (<see cref="EventBusBuilder.UseIdempotency(Action{IdempotencyOptions}?)"/>) keeps the message ids each
/// subscription is handling or has handled. The default keeps them in memory for <see cref="IdempotencyOptions.Window"/>; register
/// your own singleton (before or after <c>UseIdempotency</c>) to keep them durably.
/// </summary>
/// <remarks>
/// <para>
/// Each delivery claims its (subscription, message id) with <see cref="TryBeginAsync"/> before the handler runs, and ends the claim
/// with <see cref="EndAsync"/> after it: a copy of the message that arrives while another copy is being handled waits for that
/// copy's outcome, so that two copies delivered at the same time are never handled side by side.
/// </para>
/// <para>
/// Calls come from every worker of every subscription at once: an implementation must be thread-safe. A claim that is never ended
/// blocks later copies of its message until their handler timeout or the bus's stop cancels their wait.
/// </para>
/// </remarks>
public interface IIdempotencyStore
{
    /// <summary>
    /// Claims <paramref name="messageId"/> for one handling by <paramref name="subscription"/>. While another copy of the message
    /// is being handled, waits for that copy's <see cref="EndAsync"/>: when it was handled, returns <see langword="false"/>; when
    /// it was not, tries to claim again.
    /// </summary>
    /// <param name="subscription">The subscription's name (<see cref="MessageContext.Subscription"/>).</param>
    /// <param name="messageId">The message id.</param>
    /// <param name="cancellationToken">Cancels the wait for another copy's outcome (the delivery's token: its handler timeout, or the bus's stop).</param>
    /// <returns>
    /// <see langword="true"/> when the caller owns the handling and must call <see cref="EndAsync"/> when it is done;
    /// <see langword="false"/> when a copy with this id was already handled successfully within the window: skip it.
    /// </returns>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> fired while the call waited for another copy.</exception>
    ValueTask<bool> TryBeginAsync(string subscription, MessageId messageId, CancellationToken cancellationToken);

    /// <summary>
    /// Ends a claim made by <see cref="TryBeginAsync"/>: a handled id is remembered for the window (later copies are skipped);
    /// an id not handled is released, so that the next copy (a redelivery, or a copy waiting now) runs.
    /// </summary>
    /// <param name="subscription">The subscription's name.</param>
    /// <param name="messageId">The message id.</param>
    /// <param name="handled"><see langword="true"/> when the handler succeeded and the delivery is acknowledged; <see langword="false"/>
    /// when it threw, nacked or dead-lettered the delivery.</param>
    /// <param name="cancellationToken">Cancels the write (the helper passes <see cref="CancellationToken.None"/>, so that a cancelled
    /// handler still releases its claim).</param>
    /// <returns>A task that completes when the outcome is stored and the waiting copies are told.</returns>
    ValueTask EndAsync(string subscription, MessageId messageId, bool handled, CancellationToken cancellationToken);
}
