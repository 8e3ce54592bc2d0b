namespace ModularMonolith.Payments.Contracts;

/// <summary>Event: the payment for an order was captured.</summary>
public sealed record PaymentCaptured(int OrderId, decimal Amount, string PaymentId);

/// <summary>An invoice issued for a placed order. Numbers run from INV-0001 without gaps, in the order the orders were placed.</summary>
public sealed record Invoice(string Number, int OrderId, decimal Amount);
