namespace EventBus.Tests.Commands;

/// <summary><see cref="CommandResult"/> and <see cref="CommandResult{TResult}"/>: accepted and rejected outcomes.</summary>
public sealed class CommandResultTests
{
    [Fact]
    public void Accepted_IsAcceptedWithoutRejection()
    {
        CommandResult.Accepted.IsAccepted.Should().BeTrue();
        CommandResult.Accepted.Rejection.Should().BeNull();
        default(CommandResult).IsAccepted.Should().BeTrue();
    }

    [Fact]
    public void Reject_ConvertsToRejectedResults()
    {
        var rejection = CommandResult.Reject("No stock.", "no-stock");

        CommandResult result = rejection;
        CommandResult<int> valued = rejection;

        result.IsAccepted.Should().BeFalse();
        result.Rejection.Should().Be(new CommandRejection("No stock.", "no-stock"));
        valued.IsAccepted.Should().BeFalse();
        valued.Rejection.Should().BeSameAs(rejection);
        valued.Invoking(v => v.Value).Should().Throw<CommandRejectedException>().WithMessage("*No stock.*").Which.Rejection.Should().BeSameAs(rejection);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Reject_BlankReason_ThrowsArgumentException(string? reason)
    {
        var reject = () => CommandResult.Reject(reason!);

        reject.Should().Throw<ArgumentException>();
    }

    [Fact]
    public void Accept_ValueConvertsToAcceptedResult()
    {
        CommandResult<string> implicitly = "done";

        implicitly.IsAccepted.Should().BeTrue();
        implicitly.Value.Should().Be("done");
        CommandResult<int>.Accept(0).Value.Should().Be(0);
    }
}
