using System.Text.Json;
using System.Text.RegularExpressions;
using Inkwell.Models.Gguf;
using static Inkwell.Models.Gguf.GgufFile; // Bad(path, problem): the project's "file: problem" error

namespace Inkwell.Models.Tokenizers;

public abstract partial class Tokenizer
{
    /// <summary>
    /// A Hugging Face tokenizer.json with a BPE model: byte-level (GPT-2, Llama 3, Qwen2: ByteLevel / Split / Sequence
    /// pre-tokenizers) or SentencePiece-style (Llama 2, Mistral: Prepend + Replace normalizers or Metaspace, byte_fallback).
    /// BOS/EOS and add_bos/add_eos come from tokenizer_config.json (looked for beside tokenizer.json when no path is given),
    /// else from the post-processor template.
    /// </summary>
    public static Tokenizer FromHuggingFaceJson(string tokenizerJsonPath, string? tokenizerConfigPath = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizerJsonPath);
        if (tokenizerConfigPath is null)
        {
            string sibling = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(tokenizerJsonPath))!, "tokenizer_config.json");
            if (File.Exists(sibling)) tokenizerConfigPath = sibling;
        }
        return HuggingFaceTokenizerLoader.Load(tokenizerJsonPath, tokenizerConfigPath);
    }
}

/// <summary>Maps the parts of tokenizer.json we support onto <see cref="BpeOptions"/>; anything else is a clear error.</summary>
internal static class HuggingFaceTokenizerLoader
{
    private sealed record AddedToken(int Id, string Content, bool Special, bool LStrip, bool RStrip);

    /// <summary>What the normalizer and pre-tokenizer add up to.</summary>
    private sealed class TextRules
    {
        public bool ByteLevel;
        public List<string> Patterns = [];
        public char? SpaceReplacement;
        public char? Prefix;
        public PrefixRule PrefixRule;
        public bool PrefixOnlyIfMissing;
    }

    public static Tokenizer Load(string path, string? configPath)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: file not found", path);
        using var document = Parse(path);
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object) throw Bad(path, "the top level is not a JSON object");
        var model = Member(root, "model") ?? throw Bad(path, "has no \"model\"");
        string type = String(model, "type") ?? (Member(model, "merges") is not null ? "BPE" : "(none)");
        if (type != "BPE") throw Bad(path, $"model type '{type}' is not supported (only BPE)");
        if (!string.IsNullOrEmpty(String(model, "continuing_subword_prefix")) || !string.IsNullOrEmpty(String(model, "end_of_word_suffix")))
            throw Bad(path, "BPE continuing_subword_prefix / end_of_word_suffix are not supported");

        bool byteFallback = Bool(model, "byte_fallback") ?? false;
        var added = ReadAddedTokens(path, root);
        var (pieces, kinds) = ReadVocabulary(path, model, added, byteFallback);

        var rules = new TextRules();
        ReadNormalizer(path, Member(root, "normalizer"), rules);
        ReadPreTokenizer(path, Member(root, "pre_tokenizer"), rules);
        if (Member(root, "decoder") is { } decoder && ContainsType(decoder, "ByteLevel")) rules.ByteLevel = true;

        int? unkId = String(model, "unk_token") is { } unk && Array.IndexOf(pieces, unk) is var u and >= 0 ? u : null;
        if (unkId is int unkIndex && kinds[unkIndex] == TokenKind.Normal) kinds[unkIndex] = TokenKind.Unknown;

        var vocabulary = new Vocabulary(pieces, kinds, null);
        var merges = ReadMerges(path, model, vocabulary);
        var settings = ReadSpecialTokenSettings(path, configPath, root, vocabulary, unkId, added, rules);

        PreTokenizer? preTokenizer;
        try { preTokenizer = rules.Patterns.Count > 0 ? new PreTokenizer(rules.Patterns) : null; }
        catch (ArgumentException e) { throw Bad(path, $"a pre-tokenizer regex does not compile in .NET: {e.Message}"); }

        var options = new BpeOptions
        {
            Merges = merges,
            ByteLevel = rules.ByteLevel,
            PreTokenizer = preTokenizer,
            SpaceReplacement = rules.SpaceReplacement,
            Prefix = rules.Prefix,
            PrefixRule = rules.PrefixRule,
            PrefixOnlyIfMissing = rules.PrefixOnlyIfMissing,
            ByteFallback = byteFallback,
            IgnoreMerges = Bool(model, "ignore_merges") ?? false,
        };
        return new BpeTokenizer(vocabulary, settings, options);
    }

    private static List<AddedToken> ReadAddedTokens(string path, JsonElement root)
    {
        var added = new List<AddedToken>();
        if (Member(root, "added_tokens") is not { ValueKind: JsonValueKind.Array } array) return added;
        foreach (var token in array.EnumerateArray())
        {
            int id = Int(token, "id") ?? throw Bad(path, "an added_tokens entry has no id");
            string content = String(token, "content") ?? throw Bad(path, $"added token {id} has no content");
            if (id < 0) throw Bad(path, $"added token '{content}' has negative id {id}");
            added.Add(new AddedToken(id, content, Bool(token, "special") ?? false, Bool(token, "lstrip") ?? false, Bool(token, "rstrip") ?? false));
        }
        return added;
    }

    private static (string[] Pieces, TokenKind[] Kinds) ReadVocabulary(string path, JsonElement model, List<AddedToken> added, bool byteFallback)
    {
        if (Member(model, "vocab") is not { ValueKind: JsonValueKind.Object } vocab) throw Bad(path, "model.vocab is missing or not an object");
        var entries = new List<(string Piece, int Id)>();
        foreach (var property in vocab.EnumerateObject())
        {
            if (!property.Value.TryGetInt32(out int id) || id < 0) throw Bad(path, $"model.vocab['{property.Name}'] is not a non-negative integer id");
            entries.Add((property.Name, id));
        }
        int size = Math.Max(entries.Count == 0 ? 0 : entries.Max(e => e.Id), added.Count == 0 ? -1 : added.Max(a => a.Id)) + 1;
        if (size == 0) throw Bad(path, "the vocabulary is empty");
        if (size > entries.Count + added.Count + 1_000_000) throw Bad(path, $"ids reach {size - 1} with only {entries.Count} vocabulary entries");

        var pieces = new string[size];
        var kinds = new TokenKind[size];
        Array.Fill(kinds, TokenKind.Normal);
        foreach (var (piece, id) in entries)
        {
            pieces[id] = piece;
            if (byteFallback && Vocabulary.TryParseByteToken(piece, out _)) kinds[id] = TokenKind.Byte;
        }
        foreach (var token in added)
        {
            pieces[token.Id] = token.Content;
            kinds[token.Id] = token.Special ? TokenKind.Control : TokenKind.UserDefined;
        }
        for (int i = 0; i < size; i++)
        {
            if (pieces[i] is not null) continue;
            pieces[i] = $"[UNUSED_{i}]";
            kinds[i] = TokenKind.Unused;
        }
        return (pieces, kinds);
    }

    private static BpeMergeTable ReadMerges(string path, JsonElement model, Vocabulary vocabulary)
    {
        if (Member(model, "merges") is not { ValueKind: JsonValueKind.Array } merges) return BpeMergeTable.FromLines(vocabulary, [], out _);
        var lines = new List<string>();
        var pairs = new List<(string, string)>();
        foreach (var merge in merges.EnumerateArray())
        {
            if (merge.ValueKind == JsonValueKind.String) lines.Add(merge.GetString()!);
            else if (merge.ValueKind == JsonValueKind.Array && merge.GetArrayLength() == 2
                     && merge[0].ValueKind == JsonValueKind.String && merge[1].ValueKind == JsonValueKind.String)
                pairs.Add((merge[0].GetString()!, merge[1].GetString()!));
            else throw Bad(path, $"model.merges entry {lines.Count + pairs.Count} is neither \"a b\" nor [\"a\", \"b\"]");
        }
        if (lines.Count > 0 && pairs.Count > 0) throw Bad(path, "model.merges mixes \"a b\" strings and [a, b] arrays");
        return lines.Count > 0 ? BpeMergeTable.FromLines(vocabulary, lines, out _) : BpeMergeTable.FromPairs(vocabulary, pairs, out _);
    }

    private static void ReadNormalizer(string path, JsonElement? normalizer, TextRules rules)
    {
        if (normalizer is not { ValueKind: JsonValueKind.Object } n) return;
        switch (String(n, "type"))
        {
            case "Sequence":
                foreach (var inner in Items(path, n, "normalizers")) ReadNormalizer(path, inner, rules);
                break;
            case "Prepend":
                rules.Prefix = SingleChar(path, String(n, "prepend"), "Prepend normalizer's prepend");
                rules.PrefixRule = PrefixRule.EveryFragment;
                break;
            case "Replace":
                string from = Member(n, "pattern") is { } pattern ? String(pattern, "String") ?? "" : "";
                string to = String(n, "content") ?? "";
                if (from != " " || to.Length != 1) throw Bad(path, $"Replace normalizer '{from}' -> '{to}' is not supported (only ' ' -> one character)");
                rules.SpaceReplacement = to[0];
                break;
            case "NFC":
                // Text is taken as already NFC: this build runs with invariant globalization, where .NET cannot normalize.
                break;
            case var other:
                throw Bad(path, $"normalizer '{other}' is not supported");
        }
    }

    private static void ReadPreTokenizer(string path, JsonElement? preTokenizer, TextRules rules)
    {
        if (preTokenizer is not { ValueKind: JsonValueKind.Object } p) return;
        switch (String(p, "type"))
        {
            case "Sequence":
                foreach (var inner in Items(path, p, "pretokenizers")) ReadPreTokenizer(path, inner, rules);
                break;
            case "ByteLevel":
                rules.ByteLevel = true;
                if (Bool(p, "use_regex") ?? true) rules.Patterns.Add(PreTokenizerPatterns.ByteLevel);
                if (Bool(p, "add_prefix_space") ?? false)
                {
                    rules.Prefix = ' ';
                    rules.PrefixRule = PrefixRule.EveryFragment;
                    rules.PrefixOnlyIfMissing = true;
                }
                break;
            case "Split":
                string behavior = String(p, "behavior") ?? "Isolated";
                if (behavior != "Isolated" || (Bool(p, "invert") ?? false))
                    throw Bad(path, $"Split pre-tokenizer with behavior '{behavior}' (invert {Bool(p, "invert") ?? false}) is not supported (only Isolated)");
                var pattern = Member(p, "pattern") ?? throw Bad(path, "Split pre-tokenizer has no pattern");
                rules.Patterns.Add(String(pattern, "Regex") ?? Regex.Escape(String(pattern, "String") ?? throw Bad(path, "Split pattern is neither Regex nor String")));
                break;
            case "Digits":
                rules.Patterns.Add((Bool(p, "individual_digits") ?? false) ? @"\p{N}" : @"\p{N}+");
                break;
            case "Metaspace":
                char marker = SingleChar(path, String(p, "replacement") ?? "\u2581", "Metaspace replacement");
                rules.SpaceReplacement = marker;
                string scheme = String(p, "prepend_scheme") ?? ((Bool(p, "add_prefix_space") ?? true) ? "always" : "never");
                rules.Prefix = scheme == "never" ? null : marker;
                rules.PrefixRule = scheme switch
                {
                    "always" => PrefixRule.EveryFragment,
                    "first" => PrefixRule.FirstFragmentOnly,
                    "never" => PrefixRule.Never,
                    _ => throw Bad(path, $"Metaspace prepend_scheme '{scheme}' is not known"),
                };
                rules.PrefixOnlyIfMissing = true;
                if (Bool(p, "split") ?? true)
                {
                    string m = Regex.Escape(marker.ToString());
                    rules.Patterns.Add($"{m}[^{m}]*|[^{m}]+"); // each word keeps its leading marker
                }
                break;
            case var other:
                throw Bad(path, $"pre-tokenizer '{other}' is not supported");
        }
    }

    private static TokenizerSettings ReadSpecialTokenSettings(
        string path, string? configPath, JsonElement root, Vocabulary vocabulary, int? unkId, List<AddedToken> added, TextRules rules)
    {
        var (templateBos, templateEos) = TemplateSpecialTokens(Member(root, "post_processor"));
        string? bosText = templateBos, eosText = templateEos, padText = null;
        bool? addBos = null, addEos = null;
        if (configPath is not null)
        {
            using var config = Parse(configPath);
            var c = config.RootElement;
            bosText = TokenContent(c, "bos_token") ?? bosText;
            eosText = TokenContent(c, "eos_token") ?? eosText;
            padText = TokenContent(c, "pad_token");
            addBos = Bool(c, "add_bos_token");
            addEos = Bool(c, "add_eos_token");
        }
        int IdOf(string? text, string what) =>
            text is null ? -1 : vocabulary.TryGetId(text, out int id) ? id : throw Bad(configPath ?? path, $"{what} '{text}' is not in the vocabulary");

        int bos = IdOf(bosText, "bos_token"), eos = IdOf(eosText, "eos_token"), pad = IdOf(padText, "pad_token");
        var kinds = vocabulary.Kinds;
        var endOfGeneration = SpecialTokenRules.EndOfGeneration(vocabulary.Pieces, kinds, eos >= 0 ? eos : null);
        return new TokenizerSettings
        {
            BosId = bos,
            EosId = eos,
            UnkId = unkId,
            PadId = pad >= 0 ? pad : null,
            AddBos = addBos ?? templateBos is not null,
            AddEos = addEos ?? templateEos is not null,
            AddSpacePrefix = rules.Prefix is char prefix && prefix == rules.SpaceReplacement,
            EndOfGenerationIds = endOfGeneration,
            LStripIds = added.Where(a => a.LStrip).Select(a => a.Id).ToHashSet(),
            RStripIds = added.Where(a => a.RStrip).Select(a => a.Id).ToHashSet(),
        };
    }

    /// <summary>The special tokens a TemplateProcessing post-processor puts before and after a single sequence.</summary>
    private static (string? Before, string? After) TemplateSpecialTokens(JsonElement? processor)
    {
        if (processor is not { ValueKind: JsonValueKind.Object } p) return (null, null);
        if (String(p, "type") == "Sequence")
        {
            string? before = null, after = null;
            foreach (var inner in Member(p, "processors") is { ValueKind: JsonValueKind.Array } list ? list.EnumerateArray().ToArray() : [])
            {
                var (b, a) = TemplateSpecialTokens(inner);
                before ??= b;
                after ??= a;
            }
            return (before, after);
        }
        if (String(p, "type") != "TemplateProcessing" || Member(p, "single") is not { ValueKind: JsonValueKind.Array } single) return (null, null);
        string? first = null, last = null;
        bool seenSequence = false;
        foreach (var item in single.EnumerateArray())
        {
            if (Member(item, "Sequence") is not null) seenSequence = true;
            else if (Member(item, "SpecialToken") is { } special && String(special, "id") is { } id)
            {
                if (!seenSequence) first ??= id;
                else last = id;
            }
        }
        return (first, last);
    }

    private static string? TokenContent(JsonElement config, string key) => Member(config, key) switch
    {
        { ValueKind: JsonValueKind.String } s => s.GetString(),
        { ValueKind: JsonValueKind.Object } o => String(o, "content"),
        _ => null,
    };

    private static bool ContainsType(JsonElement element, string type)
    {
        if (element.ValueKind == JsonValueKind.Object)
        {
            if (String(element, "type") == type) return true;
            return element.EnumerateObject().Any(p => ContainsType(p.Value, type));
        }
        return element.ValueKind == JsonValueKind.Array && element.EnumerateArray().Any(e => ContainsType(e, type));
    }

    private static char SingleChar(string path, string? text, string what) =>
        text is { Length: 1 } ? text[0] : throw Bad(path, $"{what} '{text}' is not a single character");

    private static JsonDocument Parse(string path)
    {
        try
        {
            return JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true, MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw Bad(path, $"not valid JSON: {e.Message}");
        }
    }

    private static JsonElement? Member(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;

    private static IEnumerable<JsonElement> Items(string path, JsonElement element, string name) => Member(element, name) switch
    {
        { ValueKind: JsonValueKind.Array } array => array.EnumerateArray(),
        null => [],
        _ => throw Bad(path, $"'{name}' of a {String(element, "type")} is not an array"),
    };

    private static string? String(JsonElement element, string name) =>
        Member(element, name) is { ValueKind: JsonValueKind.String } s ? s.GetString() : null;

    private static bool? Bool(JsonElement element, string name) => Member(element, name) switch
    {
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        _ => null,
    };

    private static int? Int(JsonElement element, string name) =>
        Member(element, name) is { ValueKind: JsonValueKind.Number } n && n.TryGetInt32(out int v) ? v : null;
}
