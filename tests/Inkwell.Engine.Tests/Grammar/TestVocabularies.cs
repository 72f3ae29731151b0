using System.Globalization;
using System.Text;
using Inkwell.Engine.Grammar;
using Inkwell.Models.Gguf;
using Inkwell.TestSupport;

namespace Inkwell.Engine.Tests.Grammar;

/// <summary>Real vocabularies as raw token bytes, read straight from GGUF metadata (independent of the tokenizer code).</summary>
internal sealed record TestVocabulary(string Name, byte[][] Tokens, int Eos, TokenVocabulary Vocabulary);

internal static class TestVocabularies
{
    private static readonly Lazy<TestVocabulary> Stories = new(() => Load("stories260K", "models/stories260K/stories260K-f32.gguf"));
    private static readonly Lazy<TestVocabulary> LlamaSpm = new(() => Load("llama-spm", "vocab/ggml-vocab-llama-spm.gguf"));

    public static TestVocabulary Get(string name) => name switch
    {
        "stories260K" => Stories.Value,
        "llama-spm" => LlamaSpm.Value,
        _ => throw new ArgumentException(name),
    };

    private static TestVocabulary Load(string name, string relative)
    {
        using var gguf = GgufFile.Open(RepoPaths.InShared(relative.Split('/')));
        var pieces = gguf.Get<string[]>("tokenizer.ggml.tokens");
        int[]? types = gguf.TryGet<int[]>("tokenizer.ggml.token_type", out var t) ? t : null;
        int eos = gguf.Get<int>("tokenizer.ggml.eos_token_id");
        var tokens = new byte[pieces.Length][];
        for (int i = 0; i < pieces.Length; i++)
        {
            int type = types?[i] ?? 1;
            string p = pieces[i];
            if (type is 2 or 3) tokens[i] = []; // unknown / control: no text
            else if (type == 6 || (p.Length == 6 && p.StartsWith("<0x", StringComparison.Ordinal) && p.EndsWith('>')))
                tokens[i] = [byte.Parse(p.AsSpan(3, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture)];
            else tokens[i] = Encoding.UTF8.GetBytes(p.Replace('\u2581', ' '));
        }
        return new TestVocabulary(name, tokens, eos, new TokenVocabulary(tokens, [eos]));
    }
}
