using Inkwell.Models.Gguf;
using static Inkwell.Models.Gguf.GgufFile; // Bad(path, problem): the project's "file: problem" error

namespace Inkwell.Models.Tokenizers;

public abstract partial class Tokenizer
{
    /// <summary>
    /// The tokenizer embedded in a GGUF file, by tokenizer.ggml.model: "llama" (SentencePiece BPE with scores and byte
    /// fallback), "gpt2" (BPE with merges and one of llama.cpp's tokenizer.ggml.pre pre-tokenizers), "gemma4" (BPE over
    /// '▁'-escaped UTF-8), "whitespace" (BPE per whitespace-separated run), "bert" (WordPiece), "rwkv" (greedy byte trie), "t5" (Unigram), or "test" (llama.cpp's placeholder: see <see cref="IsPlaceholder"/>).
    /// </summary>
    public static Tokenizer FromGguf(GgufFile gguf)
    {
        ArgumentNullException.ThrowIfNull(gguf);
        return GgufTokenizerLoader.Load(gguf);
    }
}

/// <summary>Reads tokenizer.ggml.* metadata with llama.cpp's defaults for keys a file leaves out.</summary>
internal static class GgufTokenizerLoader
{
    private const string Prefix = "tokenizer.ggml.";

    /// <param name="gguf">The file.</param>
    /// <param name="modelOverride">Replaces tokenizer.ggml.model (tests run one vocabulary under several types).</param>
    /// <param name="preOverride">Replaces tokenizer.ggml.pre.</param>
    public static Tokenizer Load(GgufFile gguf, string? modelOverride = null, string? preOverride = null)
    {
        string path = gguf.Path;
        string model = modelOverride ?? gguf.Get<string>(Prefix + "model");
        string[] pieces = gguf.Get<string[]>(Prefix + "tokens");
        if (pieces.Length == 0) throw Bad(path, $"{Prefix}tokens is empty");
        pieces = (string[])pieces.Clone();
        for (int i = 0; i < pieces.Length; i++)
        {
            if (pieces[i].Length == 0) pieces[i] = $"[EMPTY_{i}]"; // as llama.cpp: an empty piece could never be matched
        }

        float[]? scores = gguf.TryGet<float[]>(Prefix + "scores", out var s) ? s : null;
        if (scores is not null && scores.Length != pieces.Length)
            throw Bad(path, $"{Prefix}scores has {scores.Length} entries for {pieces.Length} tokens");
        var kinds = ReadKinds(gguf, pieces.Length);

        return model switch
        {
            "llama" => LoadSentencePiece(gguf, pieces, kinds, scores ?? new float[pieces.Length]),
            "gpt2" => LoadBpe(gguf, pieces, kinds, preOverride ?? gguf.GetOrDefault(Prefix + "pre", "default")),
            "gemma4" => LoadBpe(gguf, pieces, kinds, "gemma4"), // llama.cpp fixes the pre-tokenizer for this model
            "whitespace" => LoadBpe(gguf, pieces, kinds, preOverride ?? gguf.GetOrDefault(Prefix + "pre", "default"), splitAtWhitespace: true),
            "bert" => LoadWordPiece(gguf, pieces, kinds),
            "rwkv" => new RwkvTokenizer(new Vocabulary(pieces, kinds, null), new TokenizerSettings
            {
                BosId = RequiredId(gguf, "bos_token_id", -1, pieces.Length),
                EosId = RequiredId(gguf, "eos_token_id", -1, pieces.Length),
                UnkId = OptionalId(gguf, "unknown_token_id", pieces.Length),
                AddBos = gguf.GetOrDefault(Prefix + "add_bos_token", false),
                AddEos = gguf.GetOrDefault(Prefix + "add_eos_token", false),
            }),
            "t5" => LoadUnigram(gguf, pieces, kinds, scores ?? new float[pieces.Length]),
            "test" => LoadPlaceholder(gguf, pieces, kinds),
            _ => throw Bad(path, $"{Prefix}model '{model}' is not supported (supported: llama, gpt2, gemma4, whitespace, bert, rwkv, t5, test)"),
        };
    }

    private static Tokenizer LoadSentencePiece(GgufFile gguf, string[] pieces, TokenKind[] kinds, float[] scores)
    {
        int? eot = OptionalId(gguf, "eot_token_id", pieces.Length), eom = OptionalId(gguf, "eom_token_id", pieces.Length);
        var endOfGeneration = SpecialTokenRules.EndOfGeneration(pieces, kinds, eot, eom);
        var settings = new TokenizerSettings
        {
            BosId = RequiredId(gguf, "bos_token_id", 1, pieces.Length),
            EosId = RequiredId(gguf, "eos_token_id", 2, pieces.Length),
            UnkId = OptionalId(gguf, "unknown_token_id", pieces.Length) ?? (pieces.Length > 0 ? 0 : null),
            PadId = OptionalId(gguf, "padding_token_id", pieces.Length),
            AddBos = gguf.GetOrDefault(Prefix + "add_bos_token", true),
            AddEos = gguf.GetOrDefault(Prefix + "add_eos_token", false),
            AddSpacePrefix = gguf.GetOrDefault(Prefix + "add_space_prefix", true),
            EndOfGenerationIds = endOfGeneration,
            RStripIds = Phi3RStripIds(gguf, pieces, kinds),
        };
        return new BpeTokenizer(new Vocabulary(pieces, kinds, scores), settings, BpeOptions.SentencePiece(settings.AddSpacePrefix));
    }

    private static Tokenizer LoadBpe(GgufFile gguf, string[] pieces, TokenKind[] kinds, string pre, bool splitAtWhitespace = false)
    {
        string path = gguf.Path;
        var family = PreTokenizerPatterns.ForGgufPre(pre)
            ?? throw Bad(path, $"{Prefix}pre '{pre}' is not a pre-tokenizer this reader knows");
        var vocabulary = new Vocabulary(pieces, kinds, null);
        // Kimi-K2 files may carry no merges (llama.cpp allows it): every word then stays characters or bytes.
        string[] mergeLines = pre == "kimi-k2" && !gguf.Metadata.ContainsKey(Prefix + "merges") ? [] : gguf.Get<string[]>(Prefix + "merges");
        var merges = BpeMergeTable.FromLines(vocabulary, mergeLines, out _);

        int? eot = OptionalId(gguf, "eot_token_id", pieces.Length), eom = OptionalId(gguf, "eom_token_id", pieces.Length);
        var settings = new TokenizerSettings
        {
            BosId = family.HasBos ? RequiredId(gguf, "bos_token_id", -1, pieces.Length) : -1,
            EosId = RequiredId(gguf, "eos_token_id", -1, pieces.Length),
            UnkId = OptionalId(gguf, "unknown_token_id", pieces.Length),
            PadId = OptionalId(gguf, "padding_token_id", pieces.Length),
            AddBos = family.AlwaysAddBos || gguf.GetOrDefault(Prefix + "add_bos_token", family.AddBosDefault),
            AddEos = gguf.GetOrDefault(Prefix + "add_eos_token", false),
            EndOfGenerationIds = SpecialTokenRules.EndOfGeneration(pieces, kinds, eot, eom),
        };
        PreTokenizer preTokenizer;
        try { preTokenizer = PreTokenizer.ForLlamaCpp(family.Patterns); }
        catch (ArgumentException e) { throw Bad(path, $"pre-tokenizer '{pre}' regex does not compile: {e.Message}"); }
        var options = new BpeOptions
        {
            Merges = merges,
            ByteLevel = family.ByteLevel,
            PreTokenizer = preTokenizer,
            IgnoreMerges = family.IgnoreMerges,
            WholeNewlineRuns = family.NewlineRunsWhole,
            SpaceReplacement = family.EscapeWhitespace ? TokenBytesTable.SpaceMarker : null,
            ByteFallback = !family.ByteLevel,
            SplitAtWhitespace = splitAtWhitespace,
            // llama.cpp: the BERT normalizer default (lowercase) except under the "whitespace" pre-tokenizer; the file may say otherwise
            Lowercase = splitAtWhitespace && gguf.GetOrDefault(Prefix + "normalizer.lowercase", pre != "whitespace"),
        };
        return new BpeTokenizer(vocabulary, settings, options);
    }

    private static Tokenizer LoadWordPiece(GgufFile gguf, string[] pieces, TokenKind[] kinds)
    {
        // llama.cpp's BERT defaults: [CLS] 101 as BOS, [UNK] 100, [SEP] 102, [PAD] 0; BOS and SEP are added.
        bool lowercase = gguf.GetOrDefault(Prefix + "normalizer.lowercase", true);
        var settings = new TokenizerSettings
        {
            BosId = RequiredId(gguf, "bos_token_id", 101 < pieces.Length ? 101 : -1, pieces.Length),
            EosId = RequiredId(gguf, "eos_token_id", -1, pieces.Length),
            UnkId = OptionalId(gguf, "unknown_token_id", pieces.Length) ?? (100 < pieces.Length ? 100 : null),
            PadId = OptionalId(gguf, "padding_token_id", pieces.Length) ?? 0,
            SepId = RequiredId(gguf, "seperator_token_id", 102 < pieces.Length ? 102 : -1, pieces.Length), // sic: llama.cpp's key
            AddBos = gguf.GetOrDefault(Prefix + "add_bos_token", true),
            AddEos = gguf.GetOrDefault(Prefix + "add_eos_token", false),
            AddSep = gguf.GetOrDefault(Prefix + "add_sep_token", true),
        };
        return new WordPieceTokenizer(new Vocabulary(pieces, kinds, null), settings, lowercase,
            stripAccents: gguf.GetOrDefault(Prefix + "normalizer.strip_accents", lowercase));
    }

    private static Tokenizer LoadUnigram(GgufFile gguf, string[] pieces, TokenKind[] kinds, float[] scores)
    {
        // llama.cpp's T5 defaults: no BOS, EOS 1 (added), UNK 2, PAD 0.
        var settings = new TokenizerSettings
        {
            BosId = RequiredId(gguf, "bos_token_id", -1, pieces.Length),
            EosId = RequiredId(gguf, "eos_token_id", 1 < pieces.Length ? 1 : -1, pieces.Length),
            UnkId = OptionalId(gguf, "unknown_token_id", pieces.Length) ?? (2 < pieces.Length ? 2 : null),
            PadId = OptionalId(gguf, "padding_token_id", pieces.Length) ?? 0,
            AddBos = gguf.GetOrDefault(Prefix + "add_bos_token", false),
            AddEos = gguf.GetOrDefault(Prefix + "add_eos_token", true),
            AddSpacePrefix = gguf.GetOrDefault(Prefix + "add_space_prefix", false),
            EndOfGenerationIds = SpecialTokenRules.EndOfGeneration(pieces, kinds, OptionalId(gguf, "eot_token_id", pieces.Length)),
        };
        byte[]? charsmap = gguf.Metadata.TryGetValue(Prefix + "precompiled_charsmap", out var raw) ? raw switch
        {
            byte[] b => b,
            object[] items => Array.ConvertAll(items, v => v is sbyte s ? unchecked((byte)s) : Convert.ToByte(v, System.Globalization.CultureInfo.InvariantCulture)),
            _ => throw Bad(gguf.Path, $"{Prefix}precompiled_charsmap is {raw.GetType().Name}, expected a byte array"),
        } : null;
        try
        {
            return new UnigramTokenizer(new Vocabulary(pieces, kinds, scores), settings, charsmap,
                gguf.GetOrDefault(Prefix + "remove_extra_whitespaces", false));
        }
        catch (InvalidDataException e) { throw Bad(gguf.Path, e.Message); }
    }

    private static Tokenizer LoadPlaceholder(GgufFile gguf, string[] pieces, TokenKind[] kinds)
    {
        var settings = new TokenizerSettings
        {
            BosId = RequiredId(gguf, "bos_token_id", -1, pieces.Length),
            EosId = RequiredId(gguf, "eos_token_id", -1, pieces.Length),
            AddBos = gguf.GetOrDefault(Prefix + "add_bos_token", false),
            AddEos = gguf.GetOrDefault(Prefix + "add_eos_token", false),
        };
        return new PlaceholderTokenizer(new Vocabulary(pieces, kinds, null), settings, gguf.Path);
    }

    private static TokenKind[] ReadKinds(GgufFile gguf, int count)
    {
        var kinds = new TokenKind[count];
        Array.Fill(kinds, TokenKind.Normal);
        if (!gguf.Metadata.TryGetValue(Prefix + "token_type", out var raw)) return kinds;
        int[] types = raw switch
        {
            int[] a => a,
            uint[] a => Array.ConvertAll(a, v => (int)v),
            object[] a => Array.ConvertAll(a, v => Convert.ToInt32(v, System.Globalization.CultureInfo.InvariantCulture)),
            _ => throw Bad(gguf.Path, $"{Prefix}token_type is {raw.GetType().Name}, expected an integer array"),
        };
        if (types.Length != count) throw Bad(gguf.Path, $"{Prefix}token_type has {types.Length} entries for {count} tokens");
        for (int i = 0; i < count; i++)
        {
            // 0 (undefined) and unknown codes render as nothing in llama.cpp, which is what Unused does here.
            kinds[i] = types[i] is >= 1 and <= 6 ? (TokenKind)types[i] : TokenKind.Unused;
        }
        return kinds;
    }

    private static int RequiredId(GgufFile gguf, string key, int fallback, int vocabSize)
    {
        long id = ReadInteger(gguf, Prefix + key) ?? fallback;
        if (id >= vocabSize || id < -1) throw Bad(gguf.Path, $"{Prefix}{key} = {id} is outside the vocabulary of {vocabSize} tokens");
        return (int)id;
    }

    // Out-of-range optional ids (some converters write 0xFFFFFFFF for "none") are ignored rather than fatal, as llama.cpp does.
    private static int? OptionalId(GgufFile gguf, string key, int vocabSize) =>
        ReadInteger(gguf, Prefix + key) is long id && id >= 0 && id < vocabSize ? (int)id : null;

    private static long? ReadInteger(GgufFile gguf, string key)
    {
        if (!gguf.Metadata.TryGetValue(key, out var value)) return null;
        return value switch
        {
            byte v => v,
            sbyte v => v,
            ushort v => v,
            short v => v,
            uint v => v,
            int v => v,
            ulong v => v > long.MaxValue ? long.MaxValue : (long)v,
            long v => v,
            _ => throw Bad(gguf.Path, $"metadata '{key}' is {value.GetType().Name}, expected an integer token id"),
        };
    }

    /// <summary>Phi-3 eats the whitespace after its chat tokens (llama.cpp sets rstrip by model name; GGUF has no per-token flags).</summary>
    private static HashSet<int> Phi3RStripIds(GgufFile gguf, string[] pieces, TokenKind[] kinds)
    {
        var ids = new HashSet<int>();
        string name = gguf.GetOrDefault("general.name", "").ToLowerInvariant();
        if (!name.Contains("phi-3") && !name.Contains("phi3")) return ids;
        for (int i = 0; i < pieces.Length; i++)
        {
            bool special = kinds[i] is TokenKind.Control or TokenKind.UserDefined or TokenKind.Unknown || pieces[i] == "</s>";
            if (special && pieces[i] is not ("<unk>" or "<s>" or "<|endoftext|>")) ids.Add(i);
        }
        return ids;
    }
}
