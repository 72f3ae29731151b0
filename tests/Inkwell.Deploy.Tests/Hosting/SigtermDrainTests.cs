using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Inkwell.Client.Registry;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;

namespace Inkwell.Deploy.Tests.Hosting;

/// <summary>
/// What Kubernetes does to a pod, done to real processes: `inkwell serve` and the gateway each run 8 long streaming
/// generations, get SIGTERM, and must fail readiness at once (while the streams still run), answer new requests 503
/// in each API's shape, finish all 8 streams normally, and exit 0 within the grace period.
/// </summary>
public class SigtermDrainTests
{
    private const int Streams = 8;
    // Eight 2,000-token streams on the embedded model take seconds on one thread: long enough to act during them.
    private const int TokensPerStream = 2000;
    private const string Prompt = "Once upon a time";
    private static readonly TimeSpan GracePeriod = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan ReadinessLimit = TimeSpan.FromSeconds(5);

    private static string TgiStreamBody => $$$"""{"inputs": "{{{Prompt}}}", "parameters": {"max_new_tokens": {{{TokensPerStream}}}, "ignore_eos": true}}""";

    [Fact]
    public async Task Serve_OnSigterm_FailsReadinessAtOnce_RefusesNewWork_FinishesEveryStream_AndExits0()
    {
        int grpcPort = LoopbackHost.ClosedPort();
        await using var server = await InkwellProcess.StartServeAsync("--grpc-port", grpcPort.ToString(), "--num-threads", "1",
            "--shutdown-grace-period", GracePeriod.TotalSeconds.ToString());
        var streams = await OpenStreamsAsync(server.Client, "generate_stream");

        var sinceSigterm = Stopwatch.StartNew();
        server.SendSigterm();
        await AssertNotReadyWhileStreamsRunAsync(server, streams);

        await AssertRefusedAsync(server.Client, "generate", TgiBody(4), ApiShape.Tgi);
        await AssertRefusedAsync(server.Client, "v1/completions", """{"model": "m", "prompt": "Once", "max_tokens": 4}""", ApiShape.OpenAI);
        using (var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}"))
        {
            var refused = await Assert.ThrowsAsync<RpcException>(() => new GenerationService.GenerationServiceClient(channel)
                .GenerateAsync(new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = Prompt } } }).ResponseAsync);
            Assert.Equal(StatusCode.Unavailable, refused.StatusCode);
        }

        await AssertEveryStreamFinishedNormallyAsync(streams);
        await AssertExitsZeroWithinGraceAsync(server, sinceSigterm);
    }

    [Fact]
    public async Task Gateway_OnSigterm_FailsReadinessAtOnce_RefusesNewRequests_FinishesEveryRelayedStream_AndExits0()
    {
        await using var replica = await InkwellProcess.StartServeAsync("--grpc-port", "0", "--num-threads", "1");
        var registry = Directory.CreateTempSubdirectory("inkwell-sigterm-registry-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(registry.FullName, ModelRegistry.MetadataFileName), "models:\n  - name: stories/remote\n");
            await File.WriteAllTextAsync(Path.Combine(registry.FullName, ModelRegistry.DeploymentsFileName),
                $"model_deployments:\n  - name: replica/stories\n    model_name: stories/remote\n    client_spec: {{kind: tgi, url: \"{replica.BaseAddress}\"}}\n");
            await using var gateway = await InkwellProcess.StartServeAsync("--registry", registry.FullName,
                "--shutdown-grace-period", GracePeriod.TotalSeconds.ToString());
            var streams = await OpenStreamsAsync(gateway.Client, "models/stories/remote/generate_stream");

            var sinceSigterm = Stopwatch.StartNew();
            gateway.SendSigterm();
            await AssertNotReadyWhileStreamsRunAsync(gateway, streams);

            await AssertRefusedAsync(gateway.Client, "models/stories/remote/generate", TgiBody(4), ApiShape.Tgi);
            await AssertRefusedAsync(gateway.Client, "v1/completions", """{"model": "stories/remote", "prompt": "Once", "max_tokens": 4}""", ApiShape.OpenAI);

            await AssertEveryStreamFinishedNormallyAsync(streams);
            await AssertExitsZeroWithinGraceAsync(gateway, sinceSigterm);
            // Only the gateway drained: the replica behind it still serves.
            using var replicaHealth = await replica.Client.GetAsync("health");
            Assert.Equal(HttpStatusCode.OK, replicaHealth.StatusCode);
        }
        finally
        {
            registry.Delete(recursive: true);
        }
    }

    private static string TgiBody(int tokens) => $$$"""{"inputs": "{{{Prompt}}}", "parameters": {"max_new_tokens": {{{tokens}}}}}""";

    private static async Task<EventStreamReader[]> OpenStreamsAsync(HttpClient client, string path)
    {
        var streams = Enumerable.Range(0, Streams).Select(_ => EventStreamReader.Open(client, path, TgiStreamBody)).ToArray();
        await Task.WhenAll(streams.Select(s => s.FirstEvent)).WaitAsync(TimeSpan.FromSeconds(60));
        var failed = streams.Where(s => s.Outcome.IsCompleted).Select(s => s.Outcome.Result).FirstOrDefault(o => o.Error is not null);
        Assert.True(failed is null, $"a stream failed before SIGTERM: {failed}");
        return streams;
    }

    /// <summary>Readiness (TGI's /health) must turn 503 within moments of SIGTERM, before the running work is done,
    /// while liveness (/live) stays 200 so the orchestrator does not kill the draining process.</summary>
    private static async Task AssertNotReadyWhileStreamsRunAsync(InkwellProcess server, EventStreamReader[] streams)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            using var health = await server.Client.GetAsync("health");
            if (health.StatusCode == HttpStatusCode.ServiceUnavailable)
            {
                int finished = streams.Count(s => s.Outcome.IsCompleted);
                Assert.True(finished < Streams, "readiness failed only after every stream had finished");
                ErrorBody.AssertShape(ApiShape.Tgi, await health.Content.ReadAsStringAsync());
                break;
            }
            Assert.True(clock.Elapsed < ReadinessLimit, $"/health still answered {(int)health.StatusCode} {clock.Elapsed.TotalSeconds:F1} s after SIGTERM");
            await Task.Delay(20);
        }
        using var live = await server.Client.GetAsync("live");
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
    }

    private static async Task AssertRefusedAsync(HttpClient client, string path, string body, ApiShape shape)
    {
        using var response = await client.PostAsync(path, new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        ErrorBody.AssertShape(shape, await response.Content.ReadAsStringAsync());
    }

    private static async Task AssertEveryStreamFinishedNormallyAsync(EventStreamReader[] streams)
    {
        var outcomes = await Task.WhenAll(streams.Select(s => s.Outcome)).WaitAsync(GracePeriod);
        foreach (var outcome in outcomes)
        {
            Assert.Null(outcome.Error);
            Assert.Equal(200, outcome.Status);
            Assert.Equal(TokensPerStream, outcome.TokenEvents);
            Assert.False(string.IsNullOrEmpty(outcome.GeneratedText));
        }
    }

    private static async Task AssertExitsZeroWithinGraceAsync(InkwellProcess server, Stopwatch sinceSigterm)
    {
        var exitCode = await server.WaitForExitAsync(GracePeriod - sinceSigterm.Elapsed);
        Assert.True(exitCode is not null, $"still running {sinceSigterm.Elapsed.TotalSeconds:F1} s after SIGTERM:\n{server.Output}");
        Assert.True(exitCode == 0, $"exit code {exitCode}:\n{server.Output}");
    }
}

/// <summary>The error body each API's clients parse: TGI {"error": "...", "error_type": "..."}, OpenAI {"error": {"message", "type", ...}}.</summary>
public enum ApiShape
{
    Tgi,
    OpenAI,
}

/// <summary>Checks an error body against its API's shape.</summary>
public static class ErrorBody
{
    public static void AssertShape(ApiShape shape, string body)
    {
        var json = JsonNode.Parse(body)!.AsObject();
        var fields = shape == ApiShape.Tgi ? json : json["error"]!.AsObject();
        foreach (var name in shape == ApiShape.Tgi ? ["error", "error_type"] : new[] { "message", "type" })
            Assert.Equal(System.Text.Json.JsonValueKind.String, fields[name]?.GetValueKind());
    }
}
