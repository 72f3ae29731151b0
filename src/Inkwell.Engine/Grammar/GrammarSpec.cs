namespace Inkwell.Engine.Grammar;

/// <summary>What a grammar's <see cref="GrammarSpec.Value"/> holds.</summary>
public enum GrammarKind
{
    /// <summary>A regular expression that the whole output must match (see <see cref="RegexParser"/> for the subset).</summary>
    Regex,

    /// <summary>A JSON schema (as JSON text) that the output must validate against (see <see cref="JsonSchemaRegex"/>).</summary>
    JsonSchema,

    /// <summary>Any JSON object. Value is empty or a maximum nesting depth ("3" by default).</summary>
    JsonObject,

    /// <summary>One of a list of literal strings. Value is a JSON array of strings, e.g. ["yes","no"].</summary>
    Choice,
}

/// <summary>A grammar as a request states it: its kind and its source text.</summary>
public sealed record GrammarSpec(GrammarKind Kind, string Value);

/// <summary>Budgets that keep a hostile or careless grammar from eating the server. Every compile is bounded by all of them.</summary>
public sealed record GrammarLimits
{
    public static GrammarLimits Default { get; } = new();

    /// <summary>Most states of the minimized byte DFA: each gets a token mask, a walk of the vocabulary trie.</summary>
    public int MaxDfaStates { get; init; } = 20_000;

    /// <summary>
    /// Most states of the subset construction, before minimization (ordered optional properties and nested "any
    /// value"s make many states that minimization merges again); <see cref="MaxMemoryBytes"/> often binds first.
    /// </summary>
    public int MaxSubsetStates { get; init; } = 100_000;

    /// <summary>Most states of the intermediate byte NFA (bounds repeat expansion such as x{1000}{1000}).</summary>
    public int MaxNfaStates { get; init; } = 500_000;

    /// <summary>Largest m or n in a {m,n} quantifier.</summary>
    public int MaxRepeat { get; init; } = 1_000;

    /// <summary>How deep $ref recursion and "any JSON value" nesting are unrolled.</summary>
    public int MaxJsonDepth { get; init; } = 3;

    /// <summary>Longest regex a JSON schema may translate to, in characters (recursive $refs and many optional properties grow it fast).</summary>
    public int MaxRegexLength { get; init; } = 200_000;

    /// <summary>Most memory one compile may hold (NFA, DFA, token masks), counted as it allocates.</summary>
    public long MaxMemoryBytes { get; init; } = 256L << 20;

    /// <summary>Wall-clock budget for one compile (translation, DFA and token index together).</summary>
    public TimeSpan CompileTimeout { get; init; } = TimeSpan.FromSeconds(10);
}
