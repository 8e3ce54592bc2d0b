namespace EventBus.Tests.Messages;

/// <summary>
/// <see cref="MessageTypes.IsCommand"/>: a type is a command when it implements <see cref="ICommand"/> or any closed
/// <see cref="ICommand{TResult}"/>, directly, through a base class or through an interface; any other type is an event.
/// </summary>
public sealed class MessageTypesTests
{
    public static TheoryData<Type, bool> Types => new()
    {
        { typeof(NoResult), true },
        { typeof(WithResult), true },
        { typeof(WithStructResult), true },
        { typeof(DerivedFromACommand), true },
        { typeof(ICommandContract), true },
        { typeof(ICommand), true },
        { typeof(ICommand<int>), true },
        { typeof(AnEvent), false },
        { typeof(AGenericEvent<int>), false },
        { typeof(IEventContract), false },
        { typeof(object), false },
        { typeof(string), false },
    };

    [Theory]
    [MemberData(nameof(Types))]
    public void IsCommand_Type_TrueForEveryTypeImplementingICommandOrAClosedICommandOfTResult(Type type, bool expected) =>
        MessageTypes.IsCommand(type).Should().Be(expected, "{0} {1} a command", type, expected ? "is" : "is not");

    public sealed record NoResult : ICommand;

    public sealed record WithResult(int N) : ICommand<int>;

    public readonly record struct WithStructResult : ICommand<Guid>;

    public class CommandBase : ICommand<string>;

    public sealed class DerivedFromACommand : CommandBase;

    public interface ICommandContract : ICommand<decimal>;

    public sealed record AnEvent(int N);

    public sealed record AGenericEvent<T>(T Value);

    public interface IEventContract;
}
