using System.Diagnostics;
using System.Text.RegularExpressions;
using Inkwell.Engine.Grammar;
using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Engine.Tests.Grammar;

/// <summary>
/// The must-show property: 200 seeded walks per grammar over real vocabularies, picking uniformly among allowed
/// tokens; every finished output must full-match per .NET's regex engine or validate per the test's own checker.
/// </summary>
public sealed class RandomWalkTests(ITestOutputHelper output)
{
    public static readonly TheoryData<string, string> Regexes = Cross(
        [
            @"\(\d{3}\) \d{3}-\d{4}",
            @"\+?1?[ -]?\d{3}[ -]?\d{3}[ -]?\d{4}",
            @"^(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$",
            @"[a-zA-Z0-9._%+-]{1,20}@[a-z0-9-]{1,12}(\.[a-z0-9-]{1,8})?\.(com|org|[a-z]{2})",
            @"[^@\s]+@[^@\s]+",
            @"(cat|dog|bird)s? (and|or) (fish|mouse)",
            @"(?:yes|no|maybe)!{0,3}",
            @"\w+(, \w+){0,4}\.",
            @"-?\d+(\.\d+)?([eE][+-]?\d+)?",
            @"""(?:[^""\\\n]|\\.)*""",
            @"[α-ωΑ-Ω]+( [\u4e00-\u9fff]{1,3})?",
            @"(?:caf\u00e9|na\xefve|日本語)+?\.?",
            @"[^a-z\d]{2,5}[a-z]+",
            @"\D\S\W*x",
            @"(ab|a)*b{2,}c?",
        ]);

    public static readonly TheoryData<string, string> Schemas = Cross(
        [
            // nested objects, required and optional, arrays with bounds, pattern, maxLength
            """
            {"type":"object","properties":{
              "name":{"type":"string","maxLength":12},
              "age":{"type":"integer"},
              "address":{"type":"object","properties":{"street":{"type":"string","maxLength":16},"city":{"type":"string","minLength":1,"maxLength":10},"zip":{"type":"string","pattern":"\\d{5}"}},"required":["street","city"]},
              "tags":{"type":"array","items":{"type":"string","maxLength":6},"minItems":1,"maxItems":3},
              "active":{"type":"boolean"}},
             "required":["name","age"]}
            """,
            // enum, const, uuid, date
            """
            {"type":"object","properties":{"kind":{"const":"user"},"role":{"enum":["admin","editor","viewer",3,null]},"id":{"type":"string","format":"uuid"},"born":{"type":"string","format":"date"}},"required":["kind","role"]}
            """,
            // $ref to $defs, number, type union with null
            """
            {"$defs":{"point":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"number"}},"required":["x","y"]}},
             "type":"object","properties":{"from":{"$ref":"#/$defs/point"},"to":{"$ref":"#/$defs/point"},"label":{"type":["string","null"],"maxLength":8}},"required":["from","to"]}
            """,
            // top-level array with min/max
            """{"type":"array","items":{"type":"integer"},"minItems":2,"maxItems":4}""",
            // anyOf with integers, booleans and null; oneOf with disjoint branches
            """
            {"type":"object","properties":{"value":{"anyOf":[{"type":"integer"},{"type":"boolean"},{"type":"null"}]},"unit":{"oneOf":[{"const":"kg"},{"type":"integer"}]},"at":{"type":"string","format":"time"}},"required":["value","unit"]}
            """,
            // every property optional
            """{"type":"object","properties":{"a":{"type":"integer"},"b":{"type":"boolean"},"c":{"type":"null"},"d":{"enum":["x","y"]}}}""",
            // recursion through definitions, unrolled to a bounded depth
            """
            {"definitions":{"node":{"type":"object","properties":{"name":{"type":"string","maxLength":5},"children":{"type":"array","items":{"$ref":"#/definitions/node"},"maxItems":2}},"required":["name"]}},"$ref":"#/definitions/node"}
            """,
            // map of booleans, array of nullable numbers
            """{"type":"object","properties":{"flags":{"type":"object","additionalProperties":{"type":"boolean"}},"scores":{"type":"array","items":{"type":["number","null"]},"maxItems":3}},"required":["flags","scores"]}""",
        ]);

    /// <summary>Schemas with unbounded parts (strings, integers, numbers, arrays) that only the token budget can end.</summary>
    public static readonly TheoryData<string, string> OpenEndedSchemas = Cross(
        [
            // the issue's case: an unbounded integer next to free text
            """{"type":"object","properties":{"name":{"type":"string"},"age":{"type":"integer"},"score":{"type":"number"}},"required":["name","age","score"]}""",
            // bounded integers, enums, arrays of numbers, nesting, optional members
            """
            {"type":"object","properties":{
              "id":{"type":"integer","minimum":1,"maximum":999999},
              "role":{"enum":["admin","editor","viewer"]},
              "ratio":{"type":"number","minimum":0,"maximum":1},
              "points":{"type":"array","items":{"type":"object","properties":{"x":{"type":"number"},"y":{"type":"integer","minimum":-50,"maximum":50}},"required":["x","y"]}},
              "note":{"type":"string","pattern":"^[a-z ]+$"},
              "meta":{"type":"object","properties":{"tags":{"type":"array","items":{"type":"string"},"minItems":1},"ok":{"type":"boolean"}},"required":["tags"]}},
             "required":["id","role","ratio","points","meta"]}
            """,
            // a top-level array of strings with a search pattern, and any JSON object
            """{"type":"array","items":{"type":"string","pattern":"b+"},"minItems":2}""",
            """{"type":"object","properties":{"payload":{"type":"object"},"list":{"type":"array"}},"required":["payload","list"]}""",
        ]);

    public static readonly TheoryData<string, string> OpenEndedRegexes = Cross(
        [
            @"\w+(, \w+)*\.",
            @"[α-ωΑ-Ω]+( [\u4e00-\u9fff]+)*",
            @"(?:[a-z]+ )*end",
        ]);

    [SharedTheory]
    [MemberData(nameof(Regexes))]
    public void RegexWalksFullMatchDotNetRegex(string vocabName, string pattern)
    {
        var vocab = TestVocabularies.Get(vocabName);
        var automaton = Time(() => GrammarCompiler.Compile(new GrammarSpec(GrammarKind.Regex, pattern), vocab.Vocabulary), pattern, vocab);
        var check = new Regex("^(?:" + pattern.TrimStart('^').TrimEnd('$') + ")\\z", RegexOptions.ECMAScript);
        var result = RandomWalker.Walk(automaton, vocab, runs: 200, seed: pattern.Length, maxTokens: 3000);
        foreach (var s in result.Finished) Assert.True(check.IsMatch(AsUtf16Engine(s)), $"'{s}' does not match {pattern}");
        Report(result);
        Assert.True(result.Finished.Count >= 100, $"only {result.Finished.Count} of 200 walks finished");
    }

    [SharedTheory]
    [MemberData(nameof(Schemas))]
    public void SchemaWalksValidate(string vocabName, string schema)
    {
        var vocab = TestVocabularies.Get(vocabName);
        var automaton = Time(() => GrammarCompiler.Compile(new GrammarSpec(GrammarKind.JsonSchema, schema), vocab.Vocabulary), "schema", vocab);
        var result = RandomWalker.Walk(automaton, vocab, runs: 200, seed: schema.Length, maxTokens: 1500, eosProbability: 1.0);
        foreach (var s in result.Finished) Assert.Null(JsonSchemaChecker.Check(s, schema) is { } why ? $"{why} in {s}" : null);
        Report(result);
        Assert.True(result.Finished.Count >= 100, $"only {result.Finished.Count} of 200 walks finished");
    }

    /// <summary>
    /// The budget property: with max_new_tokens as low as the shortest match allows (the automaton's distance from
    /// the start), and at random budgets a little above it, every one of 200 walks ends as a document that
    /// System.Text.Json parses and the independent checker validates, even though nothing in these schemas ends by itself.
    /// </summary>
    [SharedTheory]
    [MemberData(nameof(OpenEndedSchemas))]
    [MemberData(nameof(Schemas))]
    public void BudgetedSchemaWalksAlwaysEndValid(string vocabName, string schema)
    {
        var vocab = TestVocabularies.Get(vocabName);
        var automaton = Time(() => GrammarCompiler.Compile(new GrammarSpec(GrammarKind.JsonSchema, schema), vocab.Vocabulary), "schema", vocab);
        int shortest = automaton.DistanceToAccept(automaton.InitialState);
        foreach (var (label, budget, runs) in (ReadOnlySpan<(string, Func<Random, int>, int)>)[("shortest", _ => shortest, 200), ("shortest+0..24", r => shortest + r.Next(25), 100)])
        {
            var outputs = RandomWalker.WalkWithBudget(automaton, vocab, runs, seed: schema.Length, budget, eosProbability: 0.1);
            foreach (var (text, accepting) in outputs)
            {
                Assert.True(accepting, $"ended outside the grammar: {text}");
                using (System.Text.Json.JsonDocument.Parse(text)) { }
                Assert.Null(JsonSchemaChecker.Check(text, schema) is { } why ? $"{why} in {text}" : null);
            }
            output.WriteLine($"{label} (shortest {shortest} tokens): {outputs.Select(o => o.Text).Distinct().Count()} distinct; e.g. {outputs[0].Text} | {outputs[^1].Text}");
        }
    }

    [SharedTheory]
    [MemberData(nameof(OpenEndedRegexes))]
    [MemberData(nameof(Regexes))]
    public void BudgetedRegexWalksAlwaysFullMatch(string vocabName, string pattern)
    {
        var vocab = TestVocabularies.Get(vocabName);
        var automaton = Time(() => GrammarCompiler.Compile(new GrammarSpec(GrammarKind.Regex, pattern), vocab.Vocabulary), pattern, vocab);
        var check = new Regex("^(?:" + pattern.TrimStart('^').TrimEnd('$') + ")\\z", RegexOptions.ECMAScript);
        int shortest = automaton.DistanceToAccept(automaton.InitialState);
        foreach (var (budget, runs) in (ReadOnlySpan<(Func<Random, int>, int)>)[(_ => shortest, 200), (r => shortest + r.Next(25), 100)])
        {
            var outputs = RandomWalker.WalkWithBudget(automaton, vocab, runs, seed: pattern.Length, budget, eosProbability: 0.1);
            foreach (var (text, accepting) in outputs)
            {
                Assert.True(accepting, $"ended outside the grammar: '{text}'");
                Assert.True(check.IsMatch(AsUtf16Engine(text)), $"'{text}' does not match {pattern}");
            }
        }
        output.WriteLine($"shortest {shortest} tokens");
    }

    [SharedTheory]
    [InlineData("stories260K")]
    [InlineData("llama-spm")]
    public void JsonObjectWalksAreObjectsWithinDepth(string vocabName)
    {
        var vocab = TestVocabularies.Get(vocabName);
        var automaton = Time(() => GrammarCompiler.Compile(new GrammarSpec(GrammarKind.JsonObject, "2"), vocab.Vocabulary), "json_object", vocab);
        var result = RandomWalker.Walk(automaton, vocab, runs: 200, seed: 7, maxTokens: 1500, eosProbability: 1.0);
        foreach (var s in result.Finished)
        {
            using var doc = System.Text.Json.JsonDocument.Parse(s, new System.Text.Json.JsonDocumentOptions { MaxDepth = 2 });
            Assert.Equal(System.Text.Json.JsonValueKind.Object, doc.RootElement.ValueKind);
        }
        Report(result);
        Assert.True(result.Finished.Count >= 100, $"only {result.Finished.Count} of 200 walks finished");
    }

    [SharedTheory]
    [InlineData("stories260K")]
    [InlineData("llama-spm")]
    public void ChoiceWalksAreOneOfTheOptions(string vocabName)
    {
        string[] options = ["positive", "negative", "neutral", "n/a (see [notes])", "ça va"];
        var vocab = TestVocabularies.Get(vocabName);
        var spec = new GrammarSpec(GrammarKind.Choice, System.Text.Json.JsonSerializer.Serialize(options));
        var automaton = GrammarCompiler.Compile(spec, vocab.Vocabulary);
        var result = RandomWalker.Walk(automaton, vocab, runs: 200, seed: 3, eosProbability: 1.0);
        Assert.Equal(200, result.Finished.Count);
        Assert.All(result.Finished, s => Assert.Contains(s, options));
        Assert.Equal(options.Length, result.Finished.Distinct().Count());
    }

    /// <summary>
    /// Our regexes work on code points, .NET's on UTF-16 units, so one supplementary character is two units to
    /// [^a-z]{2} there. None of the patterns above names a supplementary character, so each one can only come from
    /// a negated class, '.', \D, \S or \W; U+E000 belongs to exactly those too and stands in for it one-for-one.
    /// .NET's ECMAScript \w also holds U+0130 and U+212A (ECMAScript's does not), so those get the same stand-in.
    /// </summary>
    private static string AsUtf16Engine(string s) =>
        string.Concat(s.EnumerateRunes().Select(r => r.IsBmp && r.Value is not (0x130 or 0x212A) ? r.ToString() : "\uE000"));

    /// <summary>
    /// As an engine would drive it with max_new_tokens 300: random logits, the budgeted ApplyMask, greedy pick, Next.
    /// Every run ends valid: at its end token, or at the budget in an accepting state (its open string "zip" pattern
    /// and integer would otherwise run on).
    /// </summary>
    [SharedFact]
    public void MaskedGreedyDecodingValidates()
    {
        const int maxNewTokens = 300;
        var vocab = TestVocabularies.Get("llama-spm");
        string schema = (string)Schemas.First()[1]; // nested object with an integer and a "zip" pattern that may run on
        var automaton = GrammarCompiler.Compile(new GrammarSpec(GrammarKind.JsonSchema, schema), vocab.Vocabulary);
        var logits = new float[vocab.Tokens.Length + 7]; // a padded head, as some models have
        int finished = 0;
        for (int run = 0; run < 30; run++)
        {
            var rng = new Random(run);
            var bytes = new List<byte>();
            int state = automaton.InitialState;
            for (int step = 0; step < maxNewTokens; step++)
            {
                for (int i = 0; i < logits.Length; i++) logits[i] = (float)rng.NextDouble();
                if (automaton.IsAccepting(state) && rng.Next(4) == 0) logits[vocab.Eos] = 2f; // a model that sometimes stops when it may
                automaton.ApplyMask(state, logits, maxNewTokens - step);
                int best = 0;
                for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
                Assert.False(float.IsNegativeInfinity(logits[best]), "everything was masked");
                if (best == vocab.Eos) break;
                state = automaton.Next(state, best);
                Assert.True(state >= 0);
                bytes.AddRange(vocab.Tokens[best]);
            }
            string json = System.Text.Encoding.UTF8.GetString([.. bytes]);
            if (automaton.IsAccepting(state)) finished++;
            Assert.Null(JsonSchemaChecker.Check(json, schema) is { } why ? $"{why} in {json}" : null);
            if (run < 3) output.WriteLine(json);
        }
        output.WriteLine($"{finished} of 30 finished");
        Assert.Equal(30, finished);
    }

    private TokenAutomaton Time(Func<TokenAutomaton> compile, string what, TestVocabulary vocab)
    {
        var sw = Stopwatch.StartNew();
        var automaton = compile();
        output.WriteLine($"{vocab.Name}: compiled {what} in {sw.Elapsed.TotalMilliseconds:0} ms: {automaton.StateCount} states, {automaton.DistinctMasks} distinct masks, {automaton.MemoryBytes >> 10} KiB");
        return automaton;
    }

    private void Report(RandomWalker.Result result)
    {
        output.WriteLine($"{result.Finished.Count} finished, {result.Unfinished} hit the length bound; e.g.:");
        foreach (var s in result.Finished.Take(5)) output.WriteLine("  " + s);
    }

    private static TheoryData<string, string> Cross(string[] grammars)
    {
        var data = new TheoryData<string, string>();
        foreach (var vocab in (string[])["stories260K", "llama-spm"])
            foreach (var g in grammars) data.Add(vocab, g.Trim());
        return data;
    }
}
