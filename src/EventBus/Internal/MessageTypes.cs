namespace EventBus;

/// <summary>Classifies message types and names their topics.</summary>
internal static class MessageTypes
{
    public static bool IsCommand(Type type) => typeof(IBaseCommand).IsAssignableFrom(type);

    /// <summary>The message-type key: the CLR full name (generic arguments included).</summary>
    public static string GetKey(Type type) => type.FullName ?? type.Name;
}

/// <summary>A dense, process-wide index per message type, so a bus finds a sealed type's topic with one array read.</summary>
internal static class TypeSlot
{
    private static int s_next = -1;

    public static int Next() => Interlocked.Increment(ref s_next);
}

/// <summary>The slot of <typeparamref name="T"/>; <see cref="IsExact"/> says whether a value's runtime type is always <typeparamref name="T"/>.</summary>
internal static class TypeSlot<T>
{
    public static readonly int Index = TypeSlot.Next();

    public static readonly bool IsExact = typeof(T).IsSealed || typeof(T).IsValueType;
}

/// <summary>The result type of commands that return no value.</summary>
internal readonly struct VoidResult;
