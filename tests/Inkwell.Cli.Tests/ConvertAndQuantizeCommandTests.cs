using System.Security.Cryptography;
using System.Text.Json;
using Inkwell.TestSupport;

namespace Inkwell.Cli.Tests;

/// <summary>`inkwell quantize`, `inkwell convert-to-safetensors` and --quantize, run as a user runs them.</summary>
public sealed class ConvertAndQuantizeCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-cli-q-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Stories => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");

    [Fact]
    public void Quantize_writes_llama_quantizes_bytes()
    {
        string output = Path.Combine(_dir, "q4_0.gguf");
        var (code, _, stderr) = CliProcess.Run("", "quantize", Stories, output, "Q4_0");
        Assert.True(code == 0, stderr);
        using var sums = JsonDocument.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "fixtures", "llama-quantize", "stories260K-f32.json")));
        Assert.Equal(sums.RootElement.GetProperty("q4_0").GetString(), Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(output))));
        Assert.Contains("Q4_0", stderr);
    }

    [Fact]
    public void Unsupported_methods_and_bad_arguments_are_clear_errors()
    {
        var (code, _, stderr) = CliProcess.Run("", "quantize", Stories, Path.Combine(_dir, "x.gguf"), "gptq");
        Assert.Equal(1, code);
        Assert.Contains("q8_0, q4_0, q4_k, q6_k", stderr);
        (code, _, stderr) = CliProcess.Run("", "quantize", Stories, "q8_0");
        Assert.Equal(2, code);
        Assert.Contains("IN OUT TYPE", stderr);
        (code, _, stderr) = CliProcess.Run("", "generate", "--quantize", "bitsandbytes-nf4", "--max-new-tokens", "4");
        Assert.Equal(1, code);
        Assert.Contains("q8_0, q4_0, q4_k, q6_k", stderr);
        (code, _, stderr) = CliProcess.Run("", "serve", "--quantize", "awq", "--port", "0");
        Assert.Equal(1, code);
        Assert.Contains("awq", stderr);
    }

    [Fact]
    public void Generate_runs_with_weights_quantized_on_load()
    {
        var (code, stdout, stderr) = CliProcess.Run("", "generate", "--quantize", "q8_0", "--temperature", "0", "--max-new-tokens", "20", "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.False(string.IsNullOrWhiteSpace(stdout));
    }

    [Fact]
    public void Convert_to_safetensors_converts_and_refuses_a_malicious_pickle()
    {
        foreach (var name in new[] { "single", "malicious" })
        {
            string source = RepoPaths.InRoot("tests", "fixtures", "pytorch", name);
            Directory.CreateDirectory(Path.Combine(_dir, name));
            foreach (var f in Directory.GetFiles(source)) File.Copy(f, Path.Combine(_dir, name, Path.GetFileName(f)));
        }
        var (code, stdout, stderr) = CliProcess.Run("", "convert-to-safetensors", Path.Combine(_dir, "single"));
        Assert.True(code == 0, stderr);
        Assert.EndsWith("model.safetensors", stdout.Trim());
        Assert.Contains("lm_head.weight tied to model.embed_tokens.weight", stderr);

        string marker = File.ReadAllText(Path.Combine(_dir, "malicious", "marker.txt")).Trim();
        (code, _, stderr) = CliProcess.Run("", "convert-to-safetensors", Path.Combine(_dir, "malicious"));
        Assert.Equal(1, code);
        Assert.Contains("refusing global posix.system", stderr);
        Assert.False(File.Exists(marker));
    }
}
