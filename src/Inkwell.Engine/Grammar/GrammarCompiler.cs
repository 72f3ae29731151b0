using System.Globalization;
using System.Text.Json;

namespace Inkwell.Engine.Grammar;

/// <summary>Entry points: spec to regex, to byte DFA, to token automaton. Pure and synchronous; see <see cref="GrammarCache"/> for the async, cached path.</summary>
public static class GrammarCompiler
{
    /// <summary>The regex that a spec stands for (useful for logs and for debugging a schema translation).</summary>
    public static string ToRegex(GrammarSpec spec, GrammarLimits? limits = null)
    {
        ArgumentNullException.ThrowIfNull(spec);
        limits ??= GrammarLimits.Default;
        string value = spec.Value ?? "";
        return spec.Kind switch
        {
            GrammarKind.Regex => value,
            GrammarKind.JsonSchema => JsonSchemaRegex.FromSchema(value, limits.MaxJsonDepth),
            GrammarKind.JsonObject => JsonSchemaRegex.AnyObject(ObjectDepth(value, limits)),
            GrammarKind.Choice => JsonSchemaRegex.Choice(ChoiceOptions(value)),
            _ => throw GrammarException.Invalid($"unknown grammar kind {spec.Kind}"),
        };
    }

    public static ByteDfa CompileToDfa(GrammarSpec spec, GrammarLimits? limits = null, CancellationToken ct = default)
    {
        limits ??= GrammarLimits.Default;
        return CompileRegex(ToRegex(spec, limits), limits, ct);
    }

    public static ByteDfa CompileRegex(string pattern, GrammarLimits? limits = null, CancellationToken ct = default)
    {
        limits ??= GrammarLimits.Default;
        var ast = RegexParser.Parse(pattern, limits);
        var nfa = ByteNfa.FromRegex(ast, limits, ct);
        return DfaBuilder.Build(nfa, limits, ct);
    }

    public static TokenAutomaton Compile(GrammarSpec spec, TokenVocabulary vocabulary, GrammarLimits? limits = null, CancellationToken ct = default)
    {
        limits ??= GrammarLimits.Default;
        var dfa = CompileToDfa(spec, limits, ct);
        return TokenAutomaton.Build(dfa, vocabulary, ct, limits.MaskPrecomputeBudget);
    }

    private static int ObjectDepth(string value, GrammarLimits limits)
    {
        if (string.IsNullOrWhiteSpace(value)) return limits.MaxJsonDepth;
        if (int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int d) && d is >= 1 and <= 8) return d;
        throw GrammarException.Invalid("a JSON object grammar's value must be empty or a nesting depth from 1 to 8");
    }

    private static List<string> ChoiceOptions(string value)
    {
        try
        {
            var options = JsonSerializer.Deserialize<List<string>>(value);
            if (options is { Count: > 0 } && options.All(o => o is not null)) return options;
        }
        catch (JsonException)
        {
        }
        throw GrammarException.Invalid("a choice must be a non-empty JSON array of strings");
    }
}
