using ModularMonolith.Orders;

namespace ModularMonolith.Scenario;

/// <summary>
/// The demo's reference copy of the Orders module's <see cref="SalesReport"/>, kept by an ordinary subscription
/// (<see cref="UpdateLiveSalesReport"/>) from the first order on. Program.cs checks the report rebuilt from the stream against it.
/// </summary>
internal sealed class LiveSalesReport
{
    public SalesReport Report { get; } = new();
}
