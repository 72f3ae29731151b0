using System.Collections.Concurrent;
using Inkwell.Models.Gguf;
using Inkwell.Models.Tokenizers;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>
/// Each llama.cpp pre-tokenizer type against llama.cpp itself: tests/data/pretokenizers/NAME.out are llama.cpp's ids for
/// cases.inp with a ../shared vocabulary whose tokenizer.ggml.pre is NAME (see the README there).
/// </summary>
public sealed class PreTokenizerTypeTests
{
    private static readonly string Folder = RepoPaths.InRoot("tests", "data", "pretokenizers");
    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer>> Tokenizers = new();

    public static IEnumerable<object[]> Cases()
    {
        if (!RepoPaths.HasShared)
        {
            yield return ["none", -1];
            yield break;
        }
        foreach (var output in Directory.GetFiles(Folder, "*.out").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(output);
            int count = Load(name).Length;
            for (int i = 0; i < count; i++) yield return [name, i];
        }
    }

    private static (string Text, int[] Ids)[] Load(string name) =>
        VocabSuites.ReadCases(Path.Combine(Folder, "cases.inp"), Path.Combine(Folder, name + ".out"));

    private static Tokenizer TokenizerFor(string pre) => Tokenizers.GetOrAdd(pre, p => new Lazy<Tokenizer>(() =>
    {
        bool rawUtf8 = !PreTokenizerPatterns.ForGgufPre(p)!.ByteLevel;
        using var gguf = GgufFile.Open(RepoPaths.InShared("vocab", rawUtf8 ? "ggml-vocab-gemma-4.gguf" : "ggml-vocab-llama-bpe.gguf"));
        // "whitespace" runs only under llama.cpp's tokenizer of that name (see README.md there)
        return GgufTokenizerLoader.Load(gguf, modelOverride: p == "whitespace" ? "whitespace" : "gpt2", preOverride: p);
    })).Value;

    [Fact]
    public void Every_pre_tokenizer_type_has_llama_cpp_output_here()
    {
        var covered = Directory.GetFiles(Folder, "*.out").Select(Path.GetFileNameWithoutExtension).ToHashSet();
        var missing = PreTokenizerPatterns.Families.Where(f => !f.Names.Any(covered.Contains)).Select(f => f.Names[0]);
        Assert.Empty(missing);
    }

    [SharedTheory]
    [MemberData(nameof(Cases))]
    public void Encode_matches_llama_cpp(string pre, int index)
    {
        var (text, expected) = Load(pre)[index];
        Assert.Equal(expected, TokenizerFor(pre).EncodeToIds(text, addSpecialTokens: false, parseSpecialTokens: false));
    }
}
