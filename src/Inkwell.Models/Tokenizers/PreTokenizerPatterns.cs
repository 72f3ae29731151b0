namespace Inkwell.Models.Tokenizers;

/// <summary>
/// The pre-tokenizer regexes that GGUF's tokenizer.ggml.pre names stand for (as llama.cpp's llama-vocab.cpp
/// maps them), plus the per-family flags that go with them.
/// </summary>
internal static class PreTokenizerPatterns
{
    /// <summary>GPT-2's split: contractions, letters, digits, other symbols, each with an optional leading space.</summary>
    public const string Gpt2 =
        @"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)";

    /// <summary>Hugging Face's ByteLevel pre-tokenizer regex: GPT-2's with a trailing \s+ catch-all.</summary>
    public const string ByteLevel = Gpt2 + @"|\s+";

    /// <summary>Llama 3: digits in groups of up to three, one non-letter may lead a word. Case-insensitive contractions spelled out.</summary>
    public const string Llama3 =
        @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    /// <summary>Qwen2: as Llama 3 but every digit is its own word.</summary>
    public const string Qwen2 =
        @"(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const string Tekken =
        @"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";

    private const string Bloom = @" ?[^(\s|.,!?…。，、।۔،)]+";

    /// <summary>Regexes plus flags for one tokenizer.ggml.pre value.</summary>
    /// <param name="IgnoreMerges">A whole word that is itself a token is taken as is (Llama 3, Tekken).</param>
    /// <param name="AddBosDefault">The add-BOS default when the file does not say.</param>
    /// <param name="HasBos">False for families whose BOS id must be ignored (ChatGLM4).</param>
    public sealed record Family(string[] Patterns, bool IgnoreMerges = false, bool AddBosDefault = false, bool HasBos = true);

    /// <summary>The family for a tokenizer.ggml.pre value, or null when it is not one we know.</summary>
    public static Family? ForGgufPre(string? pre) => pre switch
    {
        null or "" or "default" => new([@"[\p{P}\$\+<=>\^~\|]+", Gpt2, @"\p{N}+", "[0-9][0-9][0-9]"]),
        "llama3" or "llama-v3" or "llama-bpe" or "falcon3" => new([Llama3], IgnoreMerges: true, AddBosDefault: true),
        "dbrx" or "smaug-bpe" => new([Llama3]),
        "chatglm-bpe" => new([Llama3], HasBos: false),
        "qwen2" or "stablelm2" or "megrez" => new([Qwen2]),
        "gpt-2" or "phi-2" or "jina-es" or "jina-de" or "gigachat" or "jina-v1-en" or "jina-v2-es" or "jina-v2-de"
            or "jina-v2-code" or "roberta-bpe" or "mpt" or "olmo" or "jais" => new([Gpt2]),
        "starcoder" or "refact" or "command-r" or "smollm" or "codeshell" or "exaone" or "minerva-7b" => new([@"\p{N}", Gpt2]),
        "falcon" => new([@"[\p{P}\$\+<=>\^~\|`]+", Gpt2, "[0-9][0-9][0-9]"]),
        "deepseek-coder" => new([@"[\r\n]", @"\s?\p{L}+", @"\s?\p{P}+", "[一-龥ࠀ-一가-퟿]+", @"\p{N}"]),
        "deepseek-v3" => new([
            @"\p{N}{1,3}",
            "[一-龥぀-ゟ゠-ヿ]+",
            @"[!""#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
        ]),
        "poro-chat" or "bloom" or "gpt3-finnish" => new([Bloom]),
        "viking" => new([Bloom, @"\p{N}"]),
        "tekken" => new([Tekken], IgnoreMerges: true, AddBosDefault: true),
        _ => null,
    };
}
