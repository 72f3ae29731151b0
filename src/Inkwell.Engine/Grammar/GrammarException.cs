namespace Inkwell.Engine.Grammar;

/// <summary>
/// A grammar could not be compiled. Messages start with "grammar is not valid: " (the source is wrong)
/// or "grammar is too large: " (a compile budget was exceeded), so callers can map them to a 422.
/// </summary>
public sealed class GrammarException : Exception
{
    public GrammarException(string message) : base(message) { }

    public GrammarException(string message, Exception inner) : base(message, inner) { }

    /// <summary>Set when the failure depends on load (a timeout), so a cache should not remember it.</summary>
    internal bool IsTransient { get; init; }

    internal static GrammarException Invalid(string why) => new("grammar is not valid: " + why);

    internal static GrammarException TooLarge(string why) => new("grammar is too large: " + why);
}
