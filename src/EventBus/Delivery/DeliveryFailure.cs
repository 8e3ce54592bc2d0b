namespace EventBus;

/// <summary>How a delivery that did not succeed ends; its owner acts on it.</summary>
internal enum DeliveryVerdict
{
    /// <summary>Cut short by the bus going down: the stop cancelled the handler, or the container is disposed. Not a handler failure.</summary>
    CutShortByStop,

    /// <summary>A delayed redelivery was due while the bus stops: it is not attempted.</summary>
    RedeliveryAbandoned,

    /// <summary>The worker's owner is leaving (a consumer group stopped): the message is not attempted again, and not settled.</summary>
    Left,

    /// <summary>Final and reported, not dead-lettered: a command's rejection, or a failure of an at-most-once delivery.</summary>
    Reported,

    /// <summary>Final: its attempts are used up, or the handler dead-lettered it.</summary>
    DeadLetter,

    /// <summary>Due for a delayed redelivery that its owner schedules (a queue's worker moves on meanwhile).</summary>
    Scheduled,
}

/// <summary>A delivery that did not succeed: the verdict, the last attempt's failure and the times a death record keeps.</summary>
/// <param name="Verdict">How it ends.</param>
/// <param name="Failure">The last attempt's failure.</param>
/// <param name="Attempt">The last attempt's delivery count; for <see cref="DeliveryVerdict.Scheduled"/>, the next attempt's.</param>
/// <param name="FirstFailureTicks">When the first attempt of this round failed (UTC ticks).</param>
/// <param name="LastFailure">When the last attempt failed.</param>
/// <param name="Delay">For <see cref="DeliveryVerdict.Scheduled"/>: how long until the next attempt.</param>
internal sealed record DeliveryFailure(DeliveryVerdict Verdict, AttemptFailure Failure, int Attempt, long FirstFailureTicks, DateTimeOffset LastFailure, TimeSpan Delay = default)
{
    public DateTimeOffset FirstFailure => new(FirstFailureTicks, TimeSpan.Zero);

    /// <summary>Gets why a reported failure is reported: the command's rejection, an explicit nack, or the handler's failure.</summary>
    public UndeliveredReason ReportReason => Failure.Exception is CommandRejectedException ? UndeliveredReason.CommandRejected
        : Failure.Kind == SettlementKind.None ? UndeliveredReason.HandlerFailed : UndeliveredReason.Nacked;

    /// <summary>Gets the death record's reason: the nack's, the exception's message, or a generic one.</summary>
    public string Reason => Failure.Reason ?? Failure.Exception?.Message ?? "The handler failed.";
}
