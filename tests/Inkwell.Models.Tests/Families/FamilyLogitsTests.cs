using System.Text.Json;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Models.Tests.Families;

/// <summary>
/// Each family's tiny random-weight GGUF, made by llama.cpp's test-llama-archs (shared/arch-models), against the
/// logits and greedy continuation llama.cpp computed for it: NMSE over all positions' logits at most 1e-5 and the
/// same greedy tokens for f32 weights; NMSE at most 1e-3 for the q8_0 copies (each engine quantizes activations its
/// own way, so near-ties may break differently and greedy is not compared). The NMSE is printed per family.
/// </summary>
public sealed class FamilyLogitsTests(ITestOutputHelper output)
{
    public static TheoryData<string> DenseFamilies => new() { "llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "granite", "olmo2", "smollm3" };

    [SharedTheory]
    [MemberData(nameof(DenseFamilies))]
    public void F32_logits_and_greedy_continuation_match_llama_cpp(string family)
    {
        var (nmse, greedy, expectedGreedy) = Compare($"{family}-dense");
        output.WriteLine($"{family}-dense f32: NMSE {nmse:E2}, greedy {string.Join(",", greedy)}");
        Assert.True(nmse <= 1e-5, $"{family}: NMSE {nmse:E3} exceeds 1e-5");
        Assert.Equal(expectedGreedy, greedy);
    }

    [SharedTheory]
    [MemberData(nameof(DenseFamilies))]
    public void Q8_0_logits_match_llama_cpp(string family)
    {
        var (nmse, _, _) = Compare($"{family}-dense-q8_0");
        output.WriteLine($"{family}-dense q8_0: NMSE {nmse:E2}");
        Assert.True(nmse <= 1e-3, $"{family} q8_0: NMSE {nmse:E3} exceeds 1e-3");
    }

    [SharedFact]
    public void A_placeholder_vocabulary_loads_as_a_placeholder_tokenizer_that_says_so_when_text_is_asked_for()
    {
        using var loaded = ModelLoader.Load(RepoPaths.InShared("arch-models", "llama-dense.gguf"));
        Assert.True(loaded.Tokenizer.IsPlaceholder);
        Assert.Equal(loaded.Config.VocabSize, loaded.Tokenizer.VocabSize);
        var e = Assert.Throws<NotSupportedException>(() => loaded.Tokenizer.EncodeToIds("hello"));
        Assert.Contains("placeholder", e.Message);
        Assert.Contains("inkwell logits", e.Message);
        Assert.Throws<NotSupportedException>(loaded.Tokenizer.RequireText);
    }

    internal static (double Nmse, int[] Greedy, int[] ExpectedGreedy) Compare(string name) => CompareAt(RepoPaths.InShared("arch-models", name));

    /// <summary>PATH.gguf against llama.cpp's PATH.logits.json.</summary>
    internal static (double Nmse, int[] Greedy, int[] ExpectedGreedy) CompareAt(string path) => Compare(path + ".logits.json", ModelLoader.Load(path + ".gguf"));

    /// <summary>A loaded model (disposed here) against llama.cpp's logits JSON.</summary>
    internal static (double Nmse, int[] Greedy, int[] ExpectedGreedy) Compare(string logitsJson, LoadedModel candidate)
    {
        using var loaded = candidate;
        using var reference = JsonDocument.Parse(File.ReadAllText(logitsJson));
        var root = reference.RootElement;
        var tokens = root.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        var expected = root.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var expectedGreedy = root.GetProperty("greedy").EnumerateArray().Select(t => t.GetInt32()).ToArray();

        Assert.Equal(root.GetProperty("arch").GetString(), loaded.Config.Architecture);
        Assert.Equal(root.GetProperty("n_vocab").GetInt32(), loaded.Config.VocabSize);
        using var pool = new WorkerPool(2);
        var model = loaded.CreateModel(pool);
        var (logits, greedy) = TokenLogits.Evaluate(model, tokens, expectedGreedy.Length);
        return (TokenLogits.NormalizedMse(logits, expected), greedy, expectedGreedy);
    }
}
