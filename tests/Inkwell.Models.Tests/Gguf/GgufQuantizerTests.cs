using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Inkwell.Models.Gguf;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Gguf;

/// <summary>
/// `inkwell quantize` against llama-quantize, byte for byte over whole files: the q8_0 files of ../shared/arch-models
/// (made by llama-quantize), SHA-256 sums of llama-quantize's outputs for the repository's stories260K
/// (tests/fixtures/llama-quantize, so this runs without the peer), and the live peer when it is built.
/// </summary>
public sealed class GgufQuantizerTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-quant-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static readonly TheoryData<string> ArchModels =
    [
        "llama-dense", "llama-moe", "qwen2-dense", "qwen3-dense", "qwen3moe-moe", "gemma2-dense", "gemma3-dense",
        "phi3-dense", "granite-dense", "granite-moe", "olmo2-dense", "smollm3-dense",
    ];

    internal static string LlamaQuantize => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile),
        ".cache", "llama-cpp-peer", "src", "build", "bin", "llama-quantize");

    [SharedTheory]
    [MemberData(nameof(ArchModels))]
    public void Q8_0_equals_llama_quantize_output(string model)
    {
        string output = Path.Combine(_dir, model + "-q8_0.gguf");
        GgufQuantizer.Quantize(RepoPaths.InShared("arch-models", model + ".gguf"), output, QuantizationScheme.Q8_0);
        AssertSameFile(RepoPaths.InShared("arch-models", model + "-q8_0.gguf"), output);
        using var back = GgufFile.Open(output);
        Assert.Equal(7u, back.Get<uint>("general.file_type"));
        Assert.Equal(GgmlType.Q8_0, back.Tensor("blk.0.attn_q.weight").Type);
        Assert.All(back.Tensors.Where(t => t.Name.EndsWith("_norm.weight", StringComparison.Ordinal)), t => Assert.Equal(GgmlType.F32, t.Type));
    }

    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    [InlineData("q4_k")]
    [InlineData("q6_k")]
    public void Stories260K_equals_llama_quantize_output(string type)
    {
        using var sums = JsonDocument.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "fixtures", "llama-quantize", "stories260K-f32.json")));
        string output = Path.Combine(_dir, $"stories260K-{type}.gguf");
        var plan = GgufQuantizer.Quantize(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"), output, QuantizationScheme.Parse(type));
        Assert.Equal(sums.RootElement.GetProperty(type).GetString(), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(output))));
        using var loaded = Inkwell.Models.Loading.ModelLoader.Load(output);
        Assert.Equal(plan.TargetOf("blk.0.attn_q.weight"), loaded.Weights.Layers[0].Wq.Weight.Type); // 64 columns: Q4_K and Q6_K fall back to Q5_0 and Q8_0
    }

    [LlamaQuantizeTheory]
    [MemberData(nameof(ArchModels))]
    public void Four_bit_and_six_bit_equal_the_live_llama_quantize(string model)
    {
        string input = RepoPaths.InShared("arch-models", model + ".gguf");
        foreach (var type in new[] { "q4_0", "q4_k", "q6_k" })
        {
            string theirs = Path.Combine(_dir, $"{model}-{type}-llama.gguf"), ours = Path.Combine(_dir, $"{model}-{type}-inkwell.gguf");
            RunLlamaQuantize(input, theirs, type);
            try
            {
                GgufQuantizer.Quantize(input, ours, QuantizationScheme.Parse(type));
            }
            catch (NotSupportedException)
            {
                // Refused only where llama-quantize picked an encoding we have no encoder for.
                using var reference = GgufFile.Open(theirs);
                Assert.Contains(reference.Tensors, t => !ReferenceQuantizer.CanQuantizeTo(t.Type) && t.Type is not (GgmlType.F32 or GgmlType.F16));
                continue;
            }
            AssertSameFile(theirs, ours);
        }
    }

    [Fact]
    public void Quantized_files_refuse_requantizing_and_the_input_is_never_overwritten()
    {
        string input = Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");
        string q8 = Path.Combine(_dir, "q8.gguf");
        GgufQuantizer.Quantize(input, q8, QuantizationScheme.Q8_0);
        var e = Assert.Throws<NotSupportedException>(() => GgufQuantizer.Quantize(q8, Path.Combine(_dir, "q4.gguf"), QuantizationScheme.Q4_0));
        Assert.Contains("already Q8_0", e.Message);
        Assert.Throws<ArgumentException>(() => GgufQuantizer.Quantize(q8, q8, QuantizationScheme.Q8_0));
    }

    private static void RunLlamaQuantize(string input, string output, string type)
    {
        var psi = new ProcessStartInfo(LlamaQuantize) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { input, output, type, "1" }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string log = p.StandardOutput.ReadToEnd() + p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"llama-quantize {type} failed: {log}");
    }

    private static void AssertSameFile(string expectedPath, string actualPath)
    {
        var expected = File.ReadAllBytes(expectedPath);
        var actual = File.ReadAllBytes(actualPath);
        Assert.Equal(expected.Length, actual.Length);
        int first = expected.AsSpan().CommonPrefixLength(actual);
        Assert.True(first == expected.Length, $"{Path.GetFileName(actualPath)} differs from {Path.GetFileName(expectedPath)} first at byte {first}");
    }
}

/// <summary>A theory that needs ../shared and the llama.cpp peer's llama-quantize: skipped, saying which is missing.</summary>
public sealed class LlamaQuantizeTheoryAttribute : TheoryAttribute
{
    public LlamaQuantizeTheoryAttribute()
    {
        if (!RepoPaths.HasShared) Skip = $"needs ../shared beside the repository ({RepoPaths.Shared} not found)";
        else if (!File.Exists(GgufQuantizerTests.LlamaQuantize))
            Skip = $"needs the llama.cpp peer's llama-quantize ({GgufQuantizerTests.LlamaQuantize} not built; ../shared/tools/build-llama-cpp.sh builds it)";
    }
}
