using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Reliability;

/// <summary>
/// SIGTERM as the host sees it (StopAsync): readiness and new work turn 503 at once in every API, running streams
/// finish within the grace period, and streams still running at its end get a final error event (gRPC: status
/// UNAVAILABLE) instead of a reset connection.
/// </summary>
[Collection(ReliabilityCollection.Name)]
public class GracefulShutdownTests
{
    private const string Prompt = "Once upon a time";

    /// <summary>Long streams on the embedded model: no end-of-text before the length limit.</summary>
    private static string TgiBody(int tokens) => $$$"""{"inputs": "{{{Prompt}}}", "parameters": {"max_new_tokens": {{{tokens}}}, "ignore_eos": true}}""";
    private static string OpenAIBody(int tokens) => $$"""{"model": "m", "prompt": "{{Prompt}}", "max_tokens": {{tokens}}, "ignore_eos": true, "stream": true}""";
    private static SingleGenerationRequest GrpcRequest(int tokens) => new()
    {
        Request = new GenerationRequest { Text = Prompt },
        Params = new Parameters { Stopping = new StoppingCriteria { MaxNewTokens = (uint)tokens, MinNewTokens = (uint)tokens } },
    };

    // Within the total and gRPC's max_new_tokens (1024).
    private static int LongestGeneration(TestServer server) => Math.Min(server.State.Validator.Limits.MaxTotalTokens - 16, 1000);

    [Fact]
    public async Task Draining_TurnsReadinessAndNewWork_To503_InEveryApi()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0 });
        using var channel = GrpcChannel.ForAddress($"http://{server.GrpcTarget}");
        server.State.Service.Drain.Begin();

        using var health = await server.Client.GetAsync("/health");
        Assert.Equal(503, (int)health.StatusCode);
        ApiShape.AssertError(Shape.Tgi, await health.Content.ReadAsStringAsync());
        foreach (var (path, body) in new[] { ("/generate", TgiBody(4)), ("/generate_stream", TgiBody(4)), ("/v1/completions", OpenAIBody(4)) })
        {
            using var response = await server.Client.PostAsync(path, new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(503, (int)response.StatusCode);
            ApiShape.AssertError(ApiShape.Of(path), await response.Content.ReadAsStringAsync());
        }
        var client = new GenerationService.GenerationServiceClient(channel);
        var error = await Assert.ThrowsAsync<RpcException>(() => client.GenerateAsync(new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = Prompt } } }).ResponseAsync);
        Assert.Equal(StatusCode.Unavailable, error.StatusCode);
        var status = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, status.Status);
    }

    [Fact]
    public async Task StreamsRunningAtTheEndOfTheGracePeriod_EndWithAnErrorEvent_NotAReset()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0, ShutdownGracePeriod = TimeSpan.Zero });
        using var channel = GrpcChannel.ForAddress($"http://{server.GrpcTarget}");
        var grpc = new GenerationService.GenerationServiceClient(channel);
        int tokens = LongestGeneration(server);
        const int perApi = 4;

        var tgi = new List<SseStream>();
        var openAI = new List<SseStream>();
        var grpcCalls = new List<AsyncServerStreamingCall<GenerationResponse>>();
        for (int i = 0; i < perApi; i++)
        {
            tgi.Add(await SseStream.OpenAsync(server.Client, "/generate_stream", TgiBody(tokens)));
            openAI.Add(await SseStream.OpenAsync(server.Client, "/v1/completions", OpenAIBody(tokens)));
            grpcCalls.Add(grpc.GenerateStream(GrpcRequest(tokens)));
        }
        // Every stream has started before the stop.
        foreach (var s in tgi.Concat(openAI)) Assert.NotNull(await s.NextAsync());
        foreach (var c in grpcCalls) Assert.True(await c.ResponseStream.MoveNext());

        var stopping = server.App.StopAsync();

        int errors = 0;
        foreach (var (streams, shape) in new[] { (tgi, Shape.Tgi), (openAI, Shape.OpenAI) })
        {
            foreach (var s in streams)
            {
                var rest = await s.RestAsync(); // a reset would throw here
                await s.DisposeAsync();
                string last = Assert.IsType<string>(rest.LastOrDefault());
                if (last == "[DONE]" || JsonNode.Parse(last)!["generated_text"] is not null) continue; // it finished first
                ApiShape.AssertError(shape, last);
                Assert.Contains("shutting down", last);
                errors++;
            }
        }
        foreach (var c in grpcCalls)
        {
            try
            {
                while (await c.ResponseStream.MoveNext()) { }
            }
            catch (RpcException e)
            {
                Assert.Equal(StatusCode.Unavailable, e.StatusCode);
                errors++;
            }
            c.Dispose();
        }
        Assert.True(errors > 0, "no stream was still running at the end of a zero grace period");
        await stopping.WaitAsync(TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task StreamsWithinTheGracePeriod_Finish_WhileNewWorkIsRefused()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { ShutdownGracePeriod = TimeSpan.FromSeconds(60) });
        int tokens = LongestGeneration(server);
        var streams = new List<SseStream>();
        for (int i = 0; i < 4; i++) streams.Add(await SseStream.OpenAsync(server.Client, "/generate_stream", TgiBody(tokens)));
        foreach (var s in streams) Assert.NotNull(await s.NextAsync());

        var stopping = server.App.StopAsync();
        foreach (var s in streams)
        {
            var rest = await s.RestAsync();
            // The last event is TGI's final one (the whole text), not an error.
            var final = JsonNode.Parse(rest[^1])!;
            Assert.Null(final["error"]);
            Assert.NotNull(final["generated_text"]);
            await s.DisposeAsync();
        }
        // The drain ends when the last stream does, well before the grace period.
        await stopping.WaitAsync(TimeSpan.FromSeconds(20));
    }
}
