using System.Collections.Concurrent;
using Inkwell.Models.Gguf;
using Inkwell.Models.Tokenizers;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>
/// llama.cpp's tokenizer conformance vectors in ../shared/vocab: NAME.gguf (vocabulary only), NAME.gguf.inp (test strings,
/// each followed by "\n__ggml_vocab_test__\n") and NAME.gguf.out (the reference tokenizer's ids per string, no BOS).
/// </summary>
internal static class VocabSuites
{
    public static readonly string[] Names = ["llama-spm", "phi-3", "gpt-2", "llama-bpe", "qwen2"];
    private const string Separator = "\n__ggml_vocab_test__\n";

    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer>> Tokenizers = new();
    private static readonly ConcurrentDictionary<string, Lazy<(string Text, int[] Ids)[]>> Cases = new();

    public static string GgufPath(string name) => RepoPaths.InShared("vocab", $"ggml-vocab-{name}.gguf");

    public static Tokenizer Tokenizer(string name) => Tokenizers.GetOrAdd(name, n => new Lazy<Tokenizer>(() =>
    {
        using var gguf = GgufFile.Open(GgufPath(n));
        return Inkwell.Models.Tokenizers.Tokenizer.FromGguf(gguf);
    })).Value;

    public static (string Text, int[] Ids)[] Load(string name) => Cases.GetOrAdd(name, n => new Lazy<(string, int[])[]>(() =>
    {
        string input = File.ReadAllText(GgufPath(n) + ".inp");
        string[] texts = input.Split(Separator);
        if (texts[^1].Length != 0) throw new InvalidDataException($"{n}.inp does not end with the separator");
        string[] lines = File.ReadAllLines(GgufPath(n) + ".out");
        if (lines.Length != texts.Length - 1) throw new InvalidDataException($"{n}: {texts.Length - 1} inputs but {lines.Length} outputs");
        return texts[..^1]
            .Select((text, i) => (text, lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray()))
            .ToArray();
    })).Value;

    /// <summary>(suite, index) for every test string of every suite; one placeholder when ../shared is absent (the theory is skipped then).</summary>
    public static IEnumerable<object[]> AllCases()
    {
        if (!RepoPaths.HasShared)
        {
            yield return ["none", -1];
            yield break;
        }
        foreach (var name in Names)
        {
            int count = Load(name).Length;
            for (int i = 0; i < count; i++) yield return [name, i];
        }
    }
}
