using System.Diagnostics;
using System.Text.Json.Nodes;
using Inkwell.TestSupport;

namespace Inkwell.Server.Tests.OpenAI;

/// <summary>Skips unless node is on PATH and tests/peers/openai has its openai package installed (tests/setup-peers.sh does it).</summary>
public sealed class NodeOpenAIFactAttribute : FactAttribute
{
    public static string PeerDir => RepoPaths.InRoot("tests", "peers", "openai");

    public NodeOpenAIFactAttribute()
    {
        if (!RepoPaths.HasShared) Skip = $"needs ../shared beside the repository ({RepoPaths.Shared} not found) for the chat template";
        else if (!OnPath("node")) Skip = "node is not installed (the openai npm client conformance test needs Node.js)";
        else if (!File.Exists(Path.Combine(PeerDir, "node_modules", "openai", "package.json")))
            Skip = $"the openai npm package is not installed: run `npm install` in {PeerDir} (tests/setup-peers.sh tries)";
    }

    private static bool OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(d => File.Exists(Path.Combine(d, name)));
}

/// <summary>The official openai npm client (tests/peers/openai/check.mjs) against a real server: chat and completions, streamed and not, errors.</summary>
public sealed class OpenAINodeClientTests(TemplatedServer fixture) : IClassFixture<TemplatedServer>
{
    [NodeOpenAIFact]
    public async Task OpenAINpmClientTalksToTheServer()
    {
        var server = fixture.Server!;
        var psi = new ProcessStartInfo("node")
        {
            WorkingDirectory = NodeOpenAIFactAttribute.PeerDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.ArgumentList.Add("check.mjs");
        psi.ArgumentList.Add(new Uri(server.Client.BaseAddress!, "v1").ToString());
        psi.ArgumentList.Add(server.State.ModelId);
        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail("node check.mjs did not finish in 120 s");
        }
        Assert.True(process.ExitCode == 0, $"node check.mjs exited {process.ExitCode}: {await stderr}");
        var seen = JsonNode.Parse(await stdout)!;
        Assert.Equal(400, seen["error"]!["status"]!.GetValue<int>());
        Assert.Equal("invalid_request_error", seen["error"]!["type"]!.GetValue<string>());
        Assert.Equal("temperature", seen["error"]!["param"]!.GetValue<string>());
        Assert.Equal(404, seen["notFound"]!["status"]!.GetValue<int>());
        Assert.Equal("model_not_found", seen["notFound"]!["code"]!.GetValue<string>());
        Assert.StartsWith("{", seen["json"]!.GetValue<string>());
    }
}
