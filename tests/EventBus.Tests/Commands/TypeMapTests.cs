namespace EventBus.Tests.Commands;

/// <summary><see cref="TypeMap{TValue}"/>: the route table of inline sends finds every type it holds and no other.</summary>
public sealed class TypeMapTests
{
    [Fact]
    public void TryGetValue_Empty_FindsNothing()
    {
        var map = new TypeMap<string>(new Dictionary<Type, string>());

        map.TryGetValue(typeof(string), out var value).Should().BeFalse();
        value.Should().BeNull();
        map.Count.Should().Be(0);
        map.Values.Should().BeEmpty();
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(500)]
    public void TryGetValue_EveryTypeHeld_FindsItsOwnValue(int count)
    {
        // Many types share a slot in a table of a few hundred entries, so the larger maps walk probe sequences.
        var types = typeof(object).Assembly.GetTypes().Distinct().Take(count * 2).ToArray();
        var held = types.Take(count).ToDictionary(t => t, t => t.FullName ?? t.Name);
        var map = new TypeMap<string>(held);

        foreach (var (type, name) in held)
        {
            map.TryGetValue(type, out var value).Should().BeTrue();
            value.Should().BeSameAs(name);
        }

        foreach (var type in types.Skip(count))
        {
            map.TryGetValue(type, out _).Should().BeFalse("{0} is not in the map", type);
        }

        map.Count.Should().Be(count);
        map.Values.Should().BeEquivalentTo(held.Values);
    }

    [Fact]
    public void TryGetValueOf_FindsTheExactRuntimeTypeOfAnInstance()
    {
        var map = new TypeMap<string>(new Dictionary<Type, string>
        {
            [typeof(string)] = "text",
            [typeof(int)] = "number",
            [typeof(List<int>)] = "list",
            [typeof(Exception)] = "exception",
        });

        map.TryGetValueOf("any", out var text).Should().BeTrue();
        text.Should().Be("text");
        map.TryGetValueOf(42, out var number).Should().BeTrue("a boxed struct has its struct's type");
        number.Should().Be("number");
        map.TryGetValueOf(new List<int>(), out var list).Should().BeTrue();
        list.Should().Be("list");
        map.TryGetValueOf(new List<long>(), out _).Should().BeFalse("another instantiation is another type");
        map.TryGetValueOf(new InvalidOperationException(), out _).Should().BeFalse("only the exact type matches, not a base class");
        map.TryGetValueOf(new object(), out _).Should().BeFalse();
    }
}
