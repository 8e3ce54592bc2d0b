using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace EventBus;

/// <summary>Classifies message types and names their topics.</summary>
internal static class MessageTypes
{
    /// <summary>Whether <paramref name="type"/> is a command: it implements <see cref="ICommand"/> or a closed <see cref="ICommand{TResult}"/>, or is one.</summary>
    /// <remarks>
    /// Not on the publish path: a topic keeps the answer (<see cref="Topic.IsCommand"/>), so it is asked once per topic created,
    /// per channel writer, and per registration.
    /// </remarks>
    [UnconditionalSuppressMessage("Trimming", "IL2070:GetInterfaces needs the type's interfaces kept", Justification =
        "Only implementations of ICommand<> are looked for, and this method uses ICommand<>. The trimmers keep an interface " +
        "implementation whose interface is used on every type the app constructs (ILLink: the interface is marked and the type " +
        "instantiated; Native AOT: every instantiation of an interface whose definition is used), so every message type whose " +
        "instances can reach the bus keeps it. An annotation could not carry the requirement instead: one caller passes the runtime " +
        "type of a published message (object.GetType()).")]
    public static bool IsCommand(Type type) =>
        typeof(ICommand).IsAssignableFrom(type) || IsCommandWithResult(type) || Array.Exists(type.GetInterfaces(), IsCommandWithResult);

    private static bool IsCommandWithResult(Type type) => type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ICommand<>);

    /// <summary>The message-type key: the CLR full name (generic arguments included).</summary>
    public static string GetKey(Type type) => type.FullName ?? type.Name;
}

/// <summary>Hands a message to typed code (an event invoker, a command route).</summary>
internal static class MessageCast
{
    /// <summary>
    /// The message as <typeparamref name="T"/>, for a caller that only ever receives messages of that type: a subscription is
    /// attached only to topics whose type is assignable to its event type, a command route only to its command type, and a
    /// topic holds only messages of its own type. So for a class the reference is reused as is, without the runtime's generic
    /// cast helper (shared generic code would look the type up on every message); a struct is unboxed.
    /// </summary>
    public static T As<T>(object message)
    {
        Debug.Assert(message is T, "A message reaches only code for a type it is assignable to.");
        return typeof(T).IsValueType ? (T)message : Unsafe.As<object, T>(ref message);
    }
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
