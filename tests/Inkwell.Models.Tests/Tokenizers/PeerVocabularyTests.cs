using Inkwell.Models.Gguf;
using Inkwell.Models.Tokenizers;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>A theory over the llama.cpp peer's models/ folder: skipped with the path when that checkout is absent.</summary>
public sealed class PeerModelsTheoryAttribute : TheoryAttribute
{
    public PeerModelsTheoryAttribute()
    {
        if (!Directory.Exists(VocabSuites.PeerModels)) Skip = $"needs the llama.cpp peer's models ({VocabSuites.PeerModels} not found)";
    }
}

/// <summary>
/// The peer's vocabularies that llama.cpp ships without test strings (aquila, baichuan, gpt-neox, nomic-bert-moe's
/// Unigram with a precompiled charsmap) against llama.cpp's ids for tests/data/pretokenizers/cases.inp.
/// </summary>
public sealed class PeerVocabularyTests
{
    private static readonly string Folder = RepoPaths.InRoot("tests", "data", "peer-vocab");

    public static IEnumerable<object[]> Cases()
    {
        foreach (var output in Directory.GetFiles(Folder, "*.out").Order(StringComparer.Ordinal))
        {
            string name = Path.GetFileNameWithoutExtension(output);
            int count = File.ReadAllLines(output).Length;
            for (int i = 0; i < count; i++) yield return [name, i];
        }
    }

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, Lazy<Tokenizer>> Tokenizers = new();

    [PeerModelsTheory]
    [MemberData(nameof(Cases))]
    public void Encode_matches_llama_cpp(string name, int index)
    {
        var (text, expected) = VocabSuites.ReadCases(RepoPaths.InRoot("tests", "data", "pretokenizers", "cases.inp"), Path.Combine(Folder, name + ".out"))[index];
        var tokenizer = Tokenizers.GetOrAdd(name, n => new Lazy<Tokenizer>(() =>
        {
            using var gguf = GgufFile.Open(Path.Combine(VocabSuites.PeerModels, $"ggml-vocab-{n}.gguf"));
            return Tokenizer.FromGguf(gguf);
        })).Value;
        Assert.Equal(expected, tokenizer.EncodeToIds(text, addSpecialTokens: false, parseSpecialTokens: false));
    }
}
