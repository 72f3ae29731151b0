using System.Text.Json;
using Inkwell.TestSupport;

namespace Inkwell.Cli.Tests;

/// <summary>The CLI contract later checks rely on: generate streams only the continuation; tokenize prints ids.</summary>
public class GenerateAndTokenizeTests
{
    private static string Golden => RepoPaths.GoldenGreedyText;

    [Fact]
    public void Greedy_generate_on_the_embedded_model_prints_the_golden_text()
    {
        var (code, stdout, stderr) = CliProcess.Run("", "generate", "--temperature", "0", "--max-new-tokens", "256", "--threads", "1");
        Assert.True(code == 0, stderr);
        Assert.Equal(Golden, stdout.TrimEnd('\n'));
    }

    [Fact]
    public void Generate_with_a_prompt_prints_only_the_continuation()
    {
        var (code, stdout, stderr) = CliProcess.Run("", "generate", "--prompt", "Once upon a time", "--temperature", "0", "--max-new-tokens", "30");
        Assert.True(code == 0, stderr);
        Assert.StartsWith(", there was a little girl", stdout);
        Assert.StartsWith(stdout.TrimEnd('\n'), Golden["Once upon a time".Length..]);
    }

    [Fact]
    public void Tokenize_prints_the_ids_the_models_readme_gives()
    {
        var (code, stdout, _) = CliProcess.Run("Once upon a time", "tokenize");
        Assert.Equal(0, code);
        Assert.Equal("1 403 407 261 378", stdout.Trim());
        (code, stdout, _) = CliProcess.Run("Once upon a time", "tokenize", "--no-bos");
        Assert.Equal("403 407 261 378", stdout.Trim());
    }

    [SharedFact]
    public void Tokenize_jsonl_over_a_vocab_only_gguf_matches_the_reference_ids()
    {
        string vocab = RepoPaths.InShared("vocab", "ggml-vocab-llama-bpe.gguf");
        var inputs = File.ReadAllText(vocab + ".inp").Split("\n__ggml_vocab_test__\n");
        var expected = File.ReadAllLines(vocab + ".out");
        var lines = inputs.Take(expected.Length).Select(s => JsonSerializer.Serialize(s));
        var (code, stdout, stderr) = CliProcess.Run(string.Join('\n', lines) + "\n", "tokenize", "--model", vocab, "--no-bos", "--jsonl");
        Assert.True(code == 0, stderr);
        var got = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var want = expected;
        Assert.Equal(want.Length, got.Length);
        for (int i = 0; i < want.Length; i++)
            Assert.Equal(want[i].Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(int.Parse), JsonSerializer.Deserialize<int[]>(got[i])!);
    }

    [Theory]
    [InlineData("not json")]
    [InlineData("{\"inputs\": \"an object\"}")]
    [InlineData("\"\\ud800 a lone surrogate\"")]
    [InlineData("\"unterminated")]
    public void Tokenize_jsonl_with_a_line_that_is_not_a_json_string_is_a_clear_error(string badLine)
    {
        var (code, stdout, stderr) = CliProcess.Run("\"fine\"\n" + badLine + "\n", "tokenize", "--jsonl");
        Assert.Equal(2, code);
        Assert.Contains("--jsonl line 2 is not a JSON string", stderr);
        Assert.DoesNotContain("   at ", stderr);
        Assert.DoesNotContain("Unhandled exception", stderr);
        Assert.Single(stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)); // the good first line was answered
    }

    [Fact]
    public void Bad_model_and_unknown_option_are_clear_errors()
    {
        var (code, _, stderr) = CliProcess.Run("", "generate", "--model", "/nonexistent/model.gguf");
        Assert.Equal(1, code);
        Assert.Contains("/nonexistent/model.gguf", stderr);
        (code, _, stderr) = CliProcess.Run("", "generate", "--frobnicate", "3");
        Assert.Equal(2, code);
        Assert.Contains("unknown option: --frobnicate", stderr);
    }

    [Fact]
    public void Bench_json_reports_both_rates()
    {
        var (code, stdout, stderr) = CliProcess.Run("", "bench", "-p", "16", "-n", "8", "-r", "1", "--threads", "1", "--json");
        Assert.True(code == 0, stderr);
        var json = JsonDocument.Parse(stdout).RootElement;
        Assert.True(json.GetProperty("pp_tps").GetDouble() > 0);
        Assert.True(json.GetProperty("tg_tps").GetDouble() > 0);
    }

    [Fact]
    public void Bench_bandwidth_reports_one_and_n_threads_and_refuses_cache_sized_buffers()
    {
        // The command sums a buffer of ones and fails unless the sum is the element count, so success means every
        // byte was read.
        var (code, stdout, stderr) = CliProcess.Run("", "bench", "--bandwidth", "--size-mb", "64", "-r", "1", "--threads", "2", "--json");
        Assert.True(code == 0, stderr);
        var rates = JsonDocument.Parse(stdout).RootElement.GetProperty("read_gb_per_s");
        Assert.True(rates.GetProperty("1").GetDouble() > 0);
        Assert.True(rates.GetProperty("2").GetDouble() > 0);
        (code, _, stderr) = CliProcess.Run("", "bench", "--bandwidth", "--size-mb", "8");
        Assert.Equal(2, code);
        Assert.Contains("--size-mb", stderr);
        (code, _, stderr) = CliProcess.Run("", "bench", "--bandwidth", "--model", "x.gguf");
        Assert.Equal(2, code);
        Assert.Contains("--model", stderr);
    }
}
