using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Inkwell.TestSupport;

namespace Inkwell.Server.Tests.Conformance;

/// <summary>
/// Runs tests/peers/hf-inference/generate.mjs: the Hugging Face JS client (npm @huggingface/inference, version pinned
/// in that folder's package.json) calling textGeneration and textGenerationStream against a server's endpoint URL.
/// </summary>
internal static class HfInferenceClient
{
    private static readonly Lazy<string?> Probe = new(FindReason);

    public static string PeerDir => RepoPaths.InRoot("tests", "peers", "hf-inference");

    /// <summary>Why these tests cannot run here; null when they can.</summary>
    public static string? UnavailableReason => Probe.Value;

    /// <summary>Runs the script; returns its stdout as JSON ({unary, stream: {tokens, final}}).</summary>
    public static async Task<JsonElement> GenerateAsync(Uri endpoint, string prompt, int maxNewTokens)
    {
        var (exitCode, stdout, stderr) = await RunAsync("node",
            [Path.Combine(PeerDir, "generate.mjs"), endpoint.ToString().TrimEnd('/'), prompt, maxNewTokens.ToString(CultureInfo.InvariantCulture)]);
        Assert.True(exitCode == 0, $"generate.mjs failed ({exitCode}): {stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    private static string? FindReason()
    {
        const string install = "run tests/setup-peers.sh (npm ci in tests/peers/hf-inference)";
        try
        {
            if (RunAsync("node", ["--version"]).GetAwaiter().GetResult().ExitCode != 0) return "needs node (>= 18) on PATH";
        }
        catch (Win32Exception)
        {
            return "needs node (>= 18) on PATH";
        }
        string package = Path.Combine(PeerDir, "node_modules", "@huggingface", "inference", "package.json");
        return File.Exists(package) ? null : $"needs npm @huggingface/inference installed in {PeerDir} ({install})";
    }

    private static async Task<(int ExitCode, string StandardOutput, string StandardError)> RunAsync(string program, IReadOnlyList<string> arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = PeerDir,
        };
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{program} did not finish within 60 s");
        }
        return (process.ExitCode, await stdout, await stderr);
    }
}

/// <summary>A fact that needs node and the installed npm peer: skipped, saying what to do, when they are absent.</summary>
public sealed class HfInferenceFactAttribute : FactAttribute
{
    public HfInferenceFactAttribute()
    {
        if (HfInferenceClient.UnavailableReason is { } reason) Skip = reason;
    }
}
