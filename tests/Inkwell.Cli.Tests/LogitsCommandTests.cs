using System.Text.Json;
using Inkwell.Cli.Commands;
using Inkwell.TestSupport;

namespace Inkwell.Cli.Tests;

/// <summary>
/// `inkwell logits` on llama.cpp's own test model (placeholder vocabulary) against llama-logits' output; the commands
/// that need text refuse such a model with a message pointing to `inkwell logits`.
/// </summary>
public sealed class LogitsCommandTests
{
    [SharedFact]
    public void Prints_llama_logits_json_that_matches_llama_cpp_for_a_placeholder_vocabulary_model()
    {
        string reference = RepoPaths.InShared("arch-models", "gemma2-dense.logits.json");
        using var expected = JsonDocument.Parse(File.ReadAllText(reference));
        var tokens = expected.RootElement.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        var stdout = new StringWriter();
        int code = LogitsCommand.Run(["--model", RepoPaths.InShared("arch-models", "gemma2-dense.gguf"), "--tokens", string.Join(",", tokens),
            "--greedy", "16", "--threads", "2"], stdout);
        Assert.Equal(0, code);

        using var actual = JsonDocument.Parse(stdout.ToString());
        var a = actual.RootElement;
        var e = expected.RootElement;
        Assert.Equal("gemma2", a.GetProperty("arch").GetString());
        Assert.Equal(e.GetProperty("n_vocab").GetInt32(), a.GetProperty("n_vocab").GetInt32());
        Assert.Equal(tokens, a.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()));
        Assert.Equal(e.GetProperty("greedy").EnumerateArray().Select(t => t.GetInt32()), a.GetProperty("greedy").EnumerateArray().Select(t => t.GetInt32()));
        double error = 0, norm = 0;
        foreach (var (ra, re) in a.GetProperty("logits").EnumerateArray().Zip(e.GetProperty("logits").EnumerateArray()))
        {
            foreach (var (va, ve) in ra.EnumerateArray().Zip(re.EnumerateArray()))
            {
                double d = va.GetDouble() - ve.GetDouble();
                error += d * d;
                norm += ve.GetDouble() * ve.GetDouble();
            }
        }
        Assert.Equal(tokens.Length, a.GetProperty("logits").GetArrayLength());
        Assert.True(error / norm <= 1e-5, $"NMSE {error / norm:E3}");
    }

    [SharedTheory]
    [InlineData("generate", "--max-new-tokens", "4")]
    [InlineData("serve", "--port", "0")]
    public void Text_commands_refuse_a_placeholder_vocabulary_model_and_point_to_logits(string command, string option, string value)
    {
        var (code, _, stderr) = CliProcess.Run("", command, "--model-id", RepoPaths.InShared("arch-models", "llama-dense.gguf"), option, value);
        Assert.Equal(1, code);
        Assert.Contains($"inkwell {command}: error:", stderr);
        Assert.Contains("placeholder", stderr);
        Assert.Contains("inkwell logits", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
    }

    [Fact]
    public void Bad_token_lists_are_usage_errors()
    {
        Assert.Throws<UsageException>(() => LogitsCommand.Run(["--model", "x.gguf", "--tokens", "1,two"], new StringWriter()));
        Assert.Throws<UsageException>(() => LogitsCommand.Run(["--model", "x.gguf"], new StringWriter()));
        Assert.Throws<UsageException>(() => LogitsCommand.Run(["--tokens", "1"], new StringWriter()));
    }
}
