using System.Globalization;
using System.Text.Json;

namespace Inkwell.Engine.Grammar;

/// <summary>
/// Entry points: spec to regex, to byte DFA, to token automaton. Every compile is bounded by <see cref="GrammarLimits"/>
/// (states, regex length, memory, <see cref="GrammarLimits.CompileTimeout"/>) and stops when its token is cancelled.
/// <see cref="CompileAsync"/> runs it on the thread pool; <see cref="GrammarCache"/> adds sharing and an LRU.
/// </summary>
public static class GrammarCompiler
{
    /// <summary>The regex that a spec stands for (useful for logs and for debugging a schema translation).</summary>
    public static string ToRegex(GrammarSpec spec, GrammarLimits? limits = null, CancellationToken ct = default) =>
        ToRegex(spec, CompileBudget.For(limits, ct));

    public static ByteDfa CompileToDfa(GrammarSpec spec, GrammarLimits? limits = null, CancellationToken ct = default) =>
        WithTimeout(limits, ct, budget => BuildDfa(ToRegex(spec, budget), budget));

    public static ByteDfa CompileRegex(string pattern, GrammarLimits? limits = null, CancellationToken ct = default) =>
        WithTimeout(limits, ct, budget => BuildDfa(pattern, budget));

    /// <summary>Compiles on the calling thread (CPU-bound; the token index also uses the thread pool).</summary>
    public static TokenAutomaton Compile(GrammarSpec spec, TokenVocabulary vocabulary, GrammarLimits? limits = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(vocabulary);
        return WithTimeout(limits, ct, budget => TokenAutomaton.Build(BuildDfa(ToRegex(spec, budget), budget), vocabulary, budget));
    }

    /// <summary>
    /// Compiles on the thread pool without blocking the caller. Faults with <see cref="GrammarException"/> for a bad
    /// or oversized grammar (also on timeout); cancelling ct stops the work itself, not only the wait.
    /// </summary>
    public static Task<TokenAutomaton> CompileAsync(GrammarSpec spec, TokenVocabulary vocabulary, GrammarLimits? limits = null, CancellationToken ct = default) =>
        Task.Run(() => Compile(spec, vocabulary, limits, ct), ct);

    private static T WithTimeout<T>(GrammarLimits? limits, CancellationToken ct, Func<CompileBudget, T> compile)
    {
        limits ??= GrammarLimits.Default;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        if (limits.CompileTimeout <= TimeSpan.Zero) deadline.Cancel();
        else deadline.CancelAfter(limits.CompileTimeout);
        try
        {
            return compile(new CompileBudget(limits, deadline.Token));
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new GrammarException(
                $"grammar is too large: compiling took longer than {limits.CompileTimeout.TotalSeconds:0.#} s") { IsTransient = true };
        }
        catch (OperationCanceledException e) when (e.CancellationToken != ct)
        {
            // Thrown for the linked token: report the caller's, so a task running this ends Canceled, not Faulted.
            throw new OperationCanceledException(e.Message, e, ct);
        }
    }

    private static ByteDfa BuildDfa(string pattern, CompileBudget budget)
    {
        var ast = RegexParser.Parse(pattern, budget.Limits);
        budget.ThrowIfCancelled();
        var nfa = ByteNfa.FromRegex(ast, budget);
        return DfaBuilder.Build(nfa, budget);
    }

    private static string ToRegex(GrammarSpec spec, CompileBudget budget)
    {
        ArgumentNullException.ThrowIfNull(spec);
        string value = spec.Value ?? "";
        return spec.Kind switch
        {
            GrammarKind.Regex => value,
            GrammarKind.JsonSchema => JsonSchemaRegex.FromSchema(value, budget),
            GrammarKind.JsonObject => JsonSchemaRegex.AnyObject(ObjectDepth(value, budget.Limits)),
            GrammarKind.Choice => JsonSchemaRegex.Choice(ChoiceOptions(value)),
            _ => throw GrammarException.Invalid($"unknown grammar kind {spec.Kind}"),
        };
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
