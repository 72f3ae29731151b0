using System.Collections.Concurrent;
using Inkwell.Models.Gguf;
using Inkwell.Models.Tokenizers;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>
/// llama.cpp's tokenizer conformance vectors: NAME.gguf (vocabulary only), NAME.gguf.inp (test strings, each followed by
/// "\n__ggml_vocab_test__\n"; the last one may lack it) and NAME.gguf.out (the reference tokenizer's ids per string, no BOS).
/// Every ggml-vocab-*.gguf with both files is a suite, found in, first match wins: ../shared/vocab, tests/data/vocab
/// (small ones committed here), and the llama.cpp peer's models/ folder (~/.cache/llama-cpp-peer/src/models, or
/// $INKWELL_LLAMA_CPP_SRC/models) when that checkout exists.
/// </summary>
internal static class VocabSuites
{
    private const string Separator = "\n__ggml_vocab_test__\n";
    private const string Prefix = "ggml-vocab-";

    public static readonly string PeerModels = Path.Combine(
        Environment.GetEnvironmentVariable("INKWELL_LLAMA_CPP_SRC")
            ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "llama-cpp-peer", "src"),
        "models");

    public static readonly string[] Folders = [RepoPaths.InShared("vocab"), RepoPaths.InRoot("tests", "data", "vocab"), PeerModels];

    /// <summary>Suites that must exist whenever ../shared does (the issue's bar); others come and go with the folders.</summary>
    public static readonly string[] Required = ["llama-spm", "phi-3", "gpt-2", "llama-bpe", "qwen2", "gemma-4"];

    private static readonly Lazy<Dictionary<string, string>> Paths = new(() =>
    {
        var found = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var folder in Folders.Where(Directory.Exists))
        {
            foreach (var gguf in Directory.GetFiles(folder, Prefix + "*.gguf").Order(StringComparer.Ordinal))
            {
                string name = Path.GetFileNameWithoutExtension(gguf)[Prefix.Length..];
                if (File.Exists(gguf + ".inp") && File.Exists(gguf + ".out")) found.TryAdd(name, gguf);
            }
        }
        return found;
    });

    public static IReadOnlyCollection<string> Names => Paths.Value.Keys;

    /// <summary>
    /// BERT's WordPiece lowercases, strips accents and drops spaces, and the small Unigram suites map what they cannot
    /// spell to &lt;unk&gt; and merge spaces: their ids do not decode back to the input.
    /// </summary>
    public static bool IsLossless(string name) => name is not ("bert-bge" or "t5-mini" or "t5-mini-merge");

    private static readonly ConcurrentDictionary<string, Lazy<Tokenizer>> Tokenizers = new();
    private static readonly ConcurrentDictionary<string, Lazy<(string Text, int[] Ids)[]>> Cases = new();

    public static string GgufPath(string name) =>
        Paths.Value.TryGetValue(name, out var path) ? path : throw new FileNotFoundException($"no ggml-vocab-{name}.gguf suite in {string.Join(", ", Folders)}");

    public static Tokenizer Tokenizer(string name) => Tokenizers.GetOrAdd(name, n => new Lazy<Tokenizer>(() =>
    {
        using var gguf = GgufFile.Open(GgufPath(n));
        return Inkwell.Models.Tokenizers.Tokenizer.FromGguf(gguf);
    })).Value;

    public static (string Text, int[] Ids)[] Load(string name) => Cases.GetOrAdd(name, n => new Lazy<(string, int[])[]>(() =>
        ReadCases(GgufPath(n) + ".inp", GgufPath(n) + ".out"))).Value;

    /// <summary>Pairs the strings of an .inp file with the id lines of its .out file.</summary>
    public static (string Text, int[] Ids)[] ReadCases(string inputPath, string outputPath)
    {
        var texts = File.ReadAllText(inputPath).Split(Separator).ToList();
        if (texts[^1].Length == 0) texts.RemoveAt(texts.Count - 1);
        string[] lines = File.ReadAllLines(outputPath);
        if (lines.Length != texts.Count) throw new InvalidDataException($"{inputPath}: {texts.Count} inputs but {lines.Length} outputs");
        return texts
            .Select((text, i) => (text, lines[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse).ToArray()))
            .ToArray();
    }

    /// <summary>(suite, index) for every test string of every suite; one placeholder when ../shared is absent (the theory is skipped then).</summary>
    public static IEnumerable<object[]> AllCases(Func<string, bool>? suiteFilter = null)
    {
        if (!RepoPaths.HasShared)
        {
            yield return ["none", -1];
            yield break;
        }
        foreach (var name in Names.Where(n => suiteFilter?.Invoke(n) ?? true))
        {
            int count = Load(name).Length;
            for (int i = 0; i < count; i++) yield return [name, i];
        }
    }
}
