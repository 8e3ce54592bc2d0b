namespace ModularMonolith.Payments.Contracts;

/// <summary>Event: the payment for an order was captured.</summary>
public sealed record PaymentCaptured(int OrderId, decimal Amount, string PaymentId);
