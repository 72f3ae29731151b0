using System.Collections.Concurrent;
using System.Text.Json;
using Inkwell.Models.Gguf;
using Inkwell.Models.Tokenizers;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>
/// The reference suites (byte-level ones and llama-spm) run through <see cref="Tokenizer.FromHuggingFaceJson"/>: a tokenizer.json is rebuilt from each
/// GGUF vocabulary (tokens, merges, control tokens) with the pre-tokenizer configuration the model publishes on Hugging Face
/// (the "original regex from tokenizer.json" that llama.cpp quotes), so the expected ids still come from the reference tokenizers.
/// </summary>
public sealed class HuggingFaceSuiteTests
{
    private const string Llama3Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    private const string Qwen2Regex = @"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer>> Tokenizers = new();

    public static IEnumerable<object[]> Cases() =>
        VocabSuites.AllCases().Where(c => (string)c[0] is "gpt-2" or "llama-bpe" or "qwen2" or "llama-spm" or "none");

    [SharedTheory]
    [MemberData(nameof(Cases))]
    public void Tokenizer_json_encodes_like_the_reference(string suite, int index)
    {
        var (text, expected) = VocabSuites.Load(suite)[index];
        Assert.Equal(expected, Build(suite).EncodeToIds(text, addSpecialTokens: false));
    }

    private static Tokenizer Build(string suite) => Tokenizers.GetOrAdd(suite, s => new Lazy<Tokenizer>(() =>
    {
        string dir = Directory.CreateTempSubdirectory("inkwell-hf-suite-").FullName;
        try
        {
            string path = Path.Combine(dir, "tokenizer.json");
            WriteTokenizerJson(s, path);
            return Tokenizer.FromHuggingFaceJson(path);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    })).Value;

    private static void WriteTokenizerJson(string suite, string path)
    {
        if (suite == "llama-spm")
        {
            WriteSentencePieceJson(path);
            return;
        }
        using var gguf = GgufFile.Open(VocabSuites.GgufPath(suite));
        var tokens = gguf.Get<string[]>("tokenizer.ggml.tokens");
        var types = gguf.Get<int[]>("tokenizer.ggml.token_type");
        var merges = gguf.Get<string[]>("tokenizer.ggml.merges");

        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream);
        json.WriteStartObject();
        json.WriteStartArray("added_tokens");
        for (int id = 0; id < tokens.Length; id++)
        {
            if (types[id] is not (3 or 4)) continue; // control, user-defined
            json.WriteStartObject();
            json.WriteNumber("id", id);
            json.WriteString("content", tokens[id]);
            json.WriteBoolean("special", types[id] == 3);
            json.WriteEndObject();
        }
        json.WriteEndArray();

        if (suite == "qwen2")
        {
            json.WriteStartObject("normalizer");
            json.WriteString("type", "NFC");
            json.WriteEndObject();
        }
        else json.WriteNull("normalizer");

        json.WriteStartObject("pre_tokenizer");
        if (suite == "gpt-2")
        {
            json.WriteString("type", "ByteLevel");
            json.WriteBoolean("add_prefix_space", false);
            json.WriteBoolean("use_regex", true);
        }
        else
        {
            json.WriteString("type", "Sequence");
            json.WriteStartArray("pretokenizers");
            json.WriteStartObject();
            json.WriteString("type", "Split");
            json.WriteStartObject("pattern");
            json.WriteString("Regex", suite == "qwen2" ? Qwen2Regex : Llama3Regex);
            json.WriteEndObject();
            json.WriteString("behavior", "Isolated");
            json.WriteBoolean("invert", false);
            json.WriteEndObject();
            json.WriteStartObject();
            json.WriteString("type", "ByteLevel");
            json.WriteBoolean("add_prefix_space", false);
            json.WriteBoolean("use_regex", false);
            json.WriteEndObject();
            json.WriteEndArray();
        }
        json.WriteEndObject();

        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteBoolean("byte_fallback", false);
        json.WriteBoolean("ignore_merges", suite == "llama-bpe");
        json.WriteStartObject("vocab");
        for (int id = 0; id < tokens.Length; id++) json.WriteNumber(tokens[id], id);
        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var merge in merges) json.WriteStringValue(merge);
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
    }

    /// <summary>
    /// Llama 2's tokenizer.json: Prepend "▁" and Replace " " -> "▁" normalizers, byte_fallback, and merges derived from the
    /// SentencePiece scores the way transformers' SentencePieceExtractor does (every split of a piece into two vocabulary
    /// pieces, ordered by the merged piece's score, ties by id).
    /// </summary>
    private static void WriteSentencePieceJson(string path)
    {
        using var gguf = GgufFile.Open(VocabSuites.GgufPath("llama-spm"));
        var tokens = gguf.Get<string[]>("tokenizer.ggml.tokens");
        var scores = gguf.Get<float[]>("tokenizer.ggml.scores");
        var ids = new Dictionary<string, int>();
        for (int id = 0; id < tokens.Length; id++) ids[tokens[id]] = id;

        var merges = new List<(string Left, string Right, float Score, int Order)>();
        for (int id = 0; id < tokens.Length; id++)
        {
            var runes = tokens[id].EnumerateRunes().Select(r => r.ToString()).ToArray();
            var local = new List<(string, string, float, int)>();
            for (int split = 1; split < runes.Length; split++)
            {
                string left = string.Concat(runes[..split]), right = string.Concat(runes[split..]);
                if (ids.ContainsKey(left) && ids.ContainsKey(right)) local.Add((left, right, scores[id], 0));
            }
            merges.AddRange(local.OrderBy(m => ids[m.Item1]).ThenBy(m => ids[m.Item2]).Select(m => (m.Item1, m.Item2, m.Item3, merges.Count)));
        }
        var ordered = merges.Select((m, i) => (m.Left, m.Right, m.Score, Order: i)).OrderByDescending(m => m.Score).ThenBy(m => m.Order).ToList();

        using var stream = File.Create(path);
        using var json = new Utf8JsonWriter(stream);
        json.WriteStartObject();
        json.WriteStartArray("added_tokens");
        foreach (int id in new[] { 0, 1, 2 })
        {
            json.WriteStartObject();
            json.WriteNumber("id", id);
            json.WriteString("content", tokens[id]);
            json.WriteBoolean("special", true);
            json.WriteEndObject();
        }
        json.WriteEndArray();
        json.WriteStartObject("normalizer");
        json.WriteString("type", "Sequence");
        json.WriteStartArray("normalizers");
        json.WriteStartObject();
        json.WriteString("type", "Prepend");
        json.WriteString("prepend", "\u2581");
        json.WriteEndObject();
        json.WriteStartObject();
        json.WriteString("type", "Replace");
        json.WriteStartObject("pattern");
        json.WriteString("String", " ");
        json.WriteEndObject();
        json.WriteString("content", "\u2581");
        json.WriteEndObject();
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteNull("pre_tokenizer");
        json.WriteStartObject("model");
        json.WriteString("type", "BPE");
        json.WriteString("unk_token", "<unk>");
        json.WriteBoolean("byte_fallback", true);
        json.WriteStartObject("vocab");
        for (int id = 0; id < tokens.Length; id++) json.WriteNumber(tokens[id], id);
        json.WriteEndObject();
        json.WriteStartArray("merges");
        foreach (var (left, right, _, _) in ordered)
        {
            json.WriteStartArray();
            json.WriteStringValue(left);
            json.WriteStringValue(right);
            json.WriteEndArray();
        }
        json.WriteEndArray();
        json.WriteEndObject();
        json.WriteEndObject();
    }
}
