using System.Text.Json;
using Inkwell.Engine.Grammar;
using Inkwell.Engine.Requests;
using Inkwell.Models.Tokenizers;
using Inkwell.Server.Tgi;

namespace Inkwell.Server.Grammar;

/// <summary>
/// The server's constrained generation: one <see cref="TokenVocabulary"/> per model (built on first use: a trie
/// over the whole vocabulary), one shared <see cref="GrammarCache"/>, and the mapping from each API's grammar
/// fields to a <see cref="GrammarSpec"/>. Compiles run on the thread pool (the cache's), never on the engine thread,
/// and nothing waits on them synchronously: callers await them with their request's token, whose cancellation stops
/// the compile (once no other request waits for the same grammar). Time, states and memory are bounded by the
/// cache's <see cref="GrammarLimits"/>.
/// </summary>
public sealed class GrammarService
{
    private readonly Lazy<TokenVocabulary> _vocabulary;

    public GrammarService(Tokenizer tokenizer, GrammarCache? cache = null)
    {
        _vocabulary = new Lazy<TokenVocabulary>(() => BuildVocabulary(tokenizer), LazyThreadSafetyMode.ExecutionAndPublication);
        Cache = cache ?? new GrammarCache();
    }

    public GrammarCache Cache { get; }

    public TokenVocabulary Vocabulary => _vocabulary.Value;

    /// <summary>
    /// A token's bytes as the grammar sees them: what it adds to the text. Control tokens other than the end ones
    /// get none, so a grammar never allows them (their text would otherwise count as output).
    /// </summary>
    public static TokenVocabulary BuildVocabulary(Tokenizer tokenizer)
    {
        var bytes = new byte[tokenizer.VocabSize][];
        for (int id = 0; id < bytes.Length; id++)
            bytes[id] = tokenizer.IsSpecial(id) ? [] : tokenizer.TokenBytes(id).ToArray();
        return new TokenVocabulary(bytes, tokenizer.EndOfGenerationIds);
    }

    /// <summary>Compiles (or finds) the automaton; GrammarException for a bad or oversized grammar, also on timeout.</summary>
    public async Task<TokenAutomaton> CompileAsync(GrammarSpec spec, CancellationToken ct)
    {
        var vocabulary = _vocabulary.IsValueCreated ? _vocabulary.Value : await Task.Run(() => Vocabulary, ct);
        return await Cache.GetOrCompileAsync(spec, vocabulary, ct);
    }

    /// <summary>A fresh per-request constraint over a compiled automaton.</summary>
    public GrammarConstraint NewConstraint(TokenAutomaton automaton) => new(automaton, Vocabulary);

    public async Task<GrammarConstraint> CreateAsync(GrammarSpec spec, CancellationToken ct) => NewConstraint(await CompileAsync(spec, ct));

    /// <summary>
    /// TGI's grammar parameter (router/src/lib.rs GrammarType): {"type":"json"|"json_object", "value": schema object or
    /// JSON text}, {"type":"json_schema","value":{"name","schema"}}, {"type":"regex","value":"..."}; plus TGIS's choice
    /// list as {"type":"choice","value":["a","b"]}. Shape errors are GrammarException "grammar is not valid: ...".
    /// </summary>
    public static GrammarSpec FromTgi(GrammarDto dto)
    {
        var v = dto.Value;
        switch (dto.Type)
        {
            case "regex":
                if (v.ValueKind != JsonValueKind.String) throw Invalid("a regex grammar's value must be a string");
                return new GrammarSpec(GrammarKind.Regex, v.GetString()!);
            case "json" or "json_object":
                return SchemaSpec(v);
            case "json_schema":
                if (v.ValueKind != JsonValueKind.Object || !v.TryGetProperty("schema", out var schema))
                    throw Invalid("a json_schema grammar's value must be an object with a `schema`");
                return SchemaSpec(schema);
            case "choice":
                if (v.ValueKind != JsonValueKind.Array) throw Invalid("a choice grammar's value must be an array of strings");
                return new GrammarSpec(GrammarKind.Choice, v.GetRawText());
            default:
                throw Invalid($"unknown grammar type `{dto.Type}` (expected json, json_object, json_schema, regex or choice)");
        }
    }

    /// <summary>A JSON schema given as an object or as JSON text (TGI accepts both); an absent or null one means any JSON object.</summary>
    public static GrammarSpec SchemaSpec(JsonElement schema)
    {
        switch (schema.ValueKind)
        {
            case JsonValueKind.Undefined or JsonValueKind.Null:
                return new GrammarSpec(GrammarKind.JsonObject, "");
            case JsonValueKind.Object or JsonValueKind.True:
                return new GrammarSpec(GrammarKind.JsonSchema, schema.GetRawText());
            case JsonValueKind.String:
                try
                {
                    using var doc = JsonDocument.Parse(schema.GetString()!);
                    return SchemaSpec(doc.RootElement.Clone());
                }
                catch (JsonException e)
                {
                    throw Invalid(e.Message);
                }
            default:
                throw Invalid("a JSON schema must be an object");
        }
    }

    private static GrammarException Invalid(string why) => new("grammar is not valid: " + why);
}
