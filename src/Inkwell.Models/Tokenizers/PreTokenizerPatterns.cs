namespace Inkwell.Models.Tokenizers;

/// <summary>
/// Every tokenizer.ggml.pre value llama.cpp's llama-vocab.cpp knows (llama.cpp de3ff81): the regex list it splits
/// with (exactly as written there; <see cref="PreTokenizer.ForLlamaCpp"/> gives them llama.cpp's meaning) and the flags
/// that go with it. One row per llama.cpp pre-tokenizer type, listing every name that selects it.
/// </summary>
/// <remarks>
/// llama.cpp's clean_spaces flag is not kept: it only changes llama.cpp's detokenizer, and Inkwell's Decode is lossless
/// (it returns exactly the bytes of the tokens) for every type.
/// </remarks>
internal static class PreTokenizerPatterns
{
    /// <summary>GPT-2's split: contractions, letters, digits, other symbols, each with an optional leading space.</summary>
    public const string Gpt2 = @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

    /// <summary>Hugging Face's ByteLevel pre-tokenizer regex: GPT-2's with a trailing \s+ catch-all.</summary>
    public const string ByteLevel = Gpt2 + @"|\s+";

    private const string Contractions = @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])";

    /// <summary>Llama 3: digits in groups of up to three, one non-letter may lead a word. Case-insensitive contractions spelled out.</summary>
    public const string Llama3 = Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2: as Llama 3 but every digit is its own word.</summary>
    public const string Qwen2 = Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const string Bloom = @" ?[^(\s|.,!?…。，、।۔،)]+";
    private const string NewlineRuns = @"[^\n]+|[\n]+";
    private const string DeepSeek3Cjk = "[一-龥぀-ゟ゠-ヿ]+";
    private const string DeepSeek3Main =
        @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
    // Upper-then-lower letter runs; llama.cpp's rewrite of \p{Lu}/\p{Ll} classes its collapsed text cannot tell apart.
    private const string CasedWords =
        @"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+" + "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
        + @"|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*" + "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])?"
        + @"|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>One llama.cpp pre-tokenizer type.</summary>
    /// <param name="Names">The tokenizer.ggml.pre values that select it.</param>
    /// <param name="Patterns">llama.cpp's regex_exprs, applied in order.</param>
    public sealed record Family(string[] Names, string[] Patterns)
    {
        /// <summary>A whole pre-tokenized word that is itself a token is taken as is (ignore_merges).</summary>
        public bool IgnoreMerges { get; init; }
        /// <summary>The add-BOS default when the file does not say.</summary>
        public bool AddBosDefault { get; init; }
        /// <summary>BOS is added whatever the file says (llama.cpp's Gemma 4 workaround).</summary>
        public bool AlwaysAddBos { get; init; }
        /// <summary>False for families whose BOS id llama.cpp ignores (ChatGLM4).</summary>
        public bool HasBos { get; init; } = true;
        /// <summary>GPT-2 byte-to-character encoding of words; false for SentencePiece-style BPE on raw UTF-8 with &lt;0xAB&gt; byte tokens.</summary>
        public bool ByteLevel { get; init; } = true;
        /// <summary>Spaces become '▁' before splitting (escape_whitespaces).</summary>
        public bool EscapeWhitespace { get; init; }
        /// <summary>A word made only of newlines is taken whole when it is a token (Gemma 4).</summary>
        public bool NewlineRunsWhole { get; init; }
    }

    /// <summary>llama.cpp's regex list for a name, with its flags; order follows llama-vocab.cpp.</summary>
    public static readonly Family[] Families =
    [
        new(["default"], [@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"]),
        new(["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2", "jina-v5-nano"], [Llama3])
            { IgnoreMerges = true, AddBosDefault = true },
        new(["jais-2"], [Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}"]),
        new(["dbrx", "smaug-bpe"], [Llama3]),
        new(["deepseek-llm"], [
            @"[\r\n]",
            @"\s?[A-Za-z" + "\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF\U0001E900-\U0001E943" + "]+",
            @"\s?[!-/:-~！-／：-～‘-‟　-。]+",
            @"\s+$",
            "[一-龥ࠀ-一가-퟿]+",
            @"\p{N}+",
        ]),
        new(["deepseek-v3", "hunyuan-dense", "joyai-llm", "hy_v4"], [@"\p{N}{1,3}", DeepSeek3Cjk, DeepSeek3Main]),
        new(["spark2_5"], [@"\p{N}{1,3}", DeepSeek3Cjk,
            @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+|[\r\n]|\s+(?!\S)|\s+", @"\p{N}"]),
        new(["youtu"], [
            "[가-힣ㄱ-ㆎ]+|[！…“”‘’—：；，、-〿︰-﹏]+|[ㄅ-ㄯ]+|[一-龥぀-ゟ゠-ヿ]+",
            @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+" + Contractions + @"?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*" + Contractions + @"?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ]) { IgnoreMerges = true },
        new(["deepseek-coder"], [@"[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", "[一-龥ࠀ-一가-퟿]+", @"\p{N}"]),
        new(["falcon"], [@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"]),
        new(["starcoder", "refact", "command-r", "smollm", "codeshell", "exaone", "minerva-7b", "mellum2"], [@"\p{N}", Gpt2]),
        new(["gpt-2", "phi-2", "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
            "jina-v1-en", "jina-v2-code", "roberta-bpe", "exaone4", "mpt", "olmo", "jais", "trillion", "granite-docling"], [Gpt2]),
        new(["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "megrez", "stablelm2", "hunyuan", "solar-open", "grok-2"], [Qwen2]),
        new(["qwen35"], [Contractions + @"|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"]),
        new(["poro-chat", "bloom", "gpt3-finnish"], [Bloom]),
        new(["glm4", "chatglm-bpe"], [Llama3]) { HasBos = false },
        new(["viking"], [Bloom, @"\p{N}"]),
        new(["tekken"], [@"[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"])
            { IgnoreMerges = true, AddBosDefault = true },
        new(["chameleon"], ["<sentinel:[0-9]+>", "(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z", @"([\t\n]|    |  )", @"\p{N}", @"[\p{P}!-/:-@\[-`{-~]", Gpt2])
            { AddBosDefault = true },
        new(["gpt-4o", "llama4", "kanana2", "talkie", "minimax-m2"], [CasedWords]),
        new(["granite-embed-multi-97m"], [CasedWords.Replace(@"(?=[\p{L}])", @"(?=[\p{L}\p{M}])", StringComparison.Ordinal)]) { IgnoreMerges = true },
        new(["tiny_aya", "cohere2moe"], [@"\d{1,3}(?=(?:\d{3})*\b)",
            @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+" + Contractions + @"?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*" + Contractions + @"?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"]),
        new(["kimi-k2"], [@"\p{Han}+"]),
        new(["superbpe"], [@"\p{N}+", @"(?=(\d{3})+(?!\d))"]),
        new(["bailingmoe", "bailingmoe2", "llada-moe"], [@"'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+"]),
        new(["seed-coder"], [Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+"]),
        new(["ufakzeka"], [@"[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"]),
        new(["afmoe"], [@"\p{AFMoE_digits}", "[\u4E00-\u9FFF\u3400-\u4DBF\u8C48-\uFAFF\u3040-\u309F\u30A0-\u30FF\uFF65-\uFF9F\u2F00-\u2FDF\u0E40-\u0E7F\u0E80-\u0EFF\u1780-\u17FF\u1000-\u109F\uAA60-\uAA7F\uA9E0-\uA9FF\uAC00-\uD7AF\u1100-\u11FF]+", DeepSeek3Main]),
        new(["laguna"], [NewlineRuns, Qwen2]),
        new(["exaone-moe"], [Contractions + @"|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+"]),
        new(["gemma4", "granite-embed-multi-311m"], [NewlineRuns])
            { ByteLevel = false, EscapeWhitespace = true, AlwaysAddBos = true, NewlineRunsWhole = true },
        new(["sarvam-moe"], [NewlineRuns]) { ByteLevel = false, EscapeWhitespace = true },
        new(["minicpm5"], [@"\p{N}{1,3}", Contractions + @"|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"])
            { IgnoreMerges = true },
        new(["whitespace"], [@"\S+"]) { ByteLevel = false },
    ];

    private static readonly Dictionary<string, Family> ByName =
        Families.SelectMany(f => f.Names.Select(n => (n, f))).ToDictionary(x => x.n, x => x.f, StringComparer.Ordinal);

    /// <summary>The family for a tokenizer.ggml.pre value (absent or empty: "default", as llama.cpp), or null when llama.cpp does not know it.</summary>
    public static Family? ForGgufPre(string? pre) => ByName.GetValueOrDefault(string.IsNullOrEmpty(pre) ? "default" : pre);
}
