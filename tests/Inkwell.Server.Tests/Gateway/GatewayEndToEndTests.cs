using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.Gateway;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>One gateway in front of: two local deployments of the embedded model under different names, a remote
/// TGI deployment that is a second real Inkwell server, a remote one that is down, and an OpenAI-style upstream.</summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    public TestServer Remote { get; private set; } = null!;
    public FakeOpenAIUpstream OpenAI { get; private set; } = null!;
    public GatewayHarness Gateway { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Remote = await TestServer.StartAsync(new Inkwell.Server.Hosting.ServerOptions { ModelId = "remote-inkwell", MaxBatchTotalTokens = 2048, GrpcPort = 0 });
        OpenAI = await FakeOpenAIUpstream.StartAsync();
        Gateway = await GatewayHarness.StartAsync(Metadata, Deployments(Remote.Client.BaseAddress!, LoopbackHost.ClosedPort(), OpenAI.Address, Remote.GrpcPort));
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await OpenAI.DisposeAsync();
        await Remote.DisposeAsync();
    }

    public const string Metadata = """
        models:
          - name: stories/alpha
            creator_organization: Karpathy
            release_date: 2023-08-01
          - name: stories/beta
          - name: remote/stories
          - name: down/stories
          - name: echo/chat
          - name: grpc/stories
        """;

    public static string Deployments(Uri remote, int closedPort, Uri openAI, int remoteGrpcPort) => $"""
        model_deployments:
          - name: local/alpha
            model_name: stories/alpha
            client_spec: {"{"}kind: local, model_path: "{GatewayHarness.EmbeddedModel}"{"}"}
          - name: local/beta
            model_name: stories/beta
            client_spec: {"{"}kind: local, model_path: "{GatewayHarness.EmbeddedModel}", num_threads: 1{"}"}
          - name: remote/stories
            model_name: remote/stories
            client_spec: {"{"}kind: tgi, url: "{remote}"{"}"}
          - name: down/stories
            model_name: down/stories
            client_spec: {"{"}kind: tgi, url: "http://127.0.0.1:{closedPort}/"{"}"}
          - name: echo/chat
            model_name: echo/chat
            client_spec: {"{"}kind: openai, url: "{openAI}"{"}"}
          - name: grpc/stories
            model_name: grpc/stories
            client_spec: {"{"}kind: tgis, url: "grpc://127.0.0.1:{remoteGrpcPort}"{"}"}
        """;
}

public sealed class GatewayEndToEndTests(GatewayFixture fixture) : IClassFixture<GatewayFixture>
{
    private const string Prompt = "Once upon a time";
    private HttpClient Client => fixture.Gateway.Client;
    private static string GoldenContinuation => GatewayHarness.GoldenGreedy[Prompt.Length..];

    private async Task<(HttpResponseMessage Response, JsonNode Json)> PostAsync(string route, object body)
    {
        var response = await Client.PostAsJsonAsync(route, body);
        return (response, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static object Greedy(int maxNewTokens = 20) => new { inputs = Prompt, parameters = new { max_new_tokens = maxNewTokens } };

    [Theory]
    [InlineData("stories/alpha", "local/alpha")]
    [InlineData("stories/beta", "local/beta")]
    [InlineData("remote/stories", "remote/stories")]
    [InlineData("grpc/stories", "grpc/stories")] // TGI over HTTP in, TGIS over gRPC out
    public async Task EveryDeploymentAnswersGreedyGenerateWithTheGoldenTextThroughOneUrl(string model, string deployment)
    {
        var (response, json) = await PostAsync($"/models/{model}/generate", Greedy());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(deployment, response.Headers.GetValues(GatewayEndpoints.DeploymentHeader).Single());
        var text = json["generated_text"]!.GetValue<string>();
        Assert.True(text.Length > 40, text);
        Assert.StartsWith(text, GoldenContinuation);
        // TGI's own headers come through from the server that did the work.
        Assert.Equal("20", response.Headers.GetValues("x-generated-tokens").Single());
    }

    [Theory]
    [InlineData("stories/alpha")]
    [InlineData("remote/stories")]
    [InlineData("grpc/stories")]
    public async Task GenerateStreamIsRelayedAsServerSentEvents(string model)
    {
        var response = await Client.PostAsJsonAsync($"/models/{model}/generate_stream", Greedy(12));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType!.MediaType);
        var events = (await response.Content.ReadAsStringAsync())
            .Split("\n\n", StringSplitOptions.RemoveEmptyEntries)
            .Select(e => JsonNode.Parse(e["data:".Length..])!)
            .ToList();
        Assert.Equal(12, events.Count);
        var joined = string.Concat(events.Select(e => e["token"]!["text"]!.GetValue<string>()));
        Assert.Equal(joined, events[^1]["generated_text"]!.GetValue<string>());
        Assert.StartsWith(joined, GoldenContinuation);
    }

    [Fact]
    public async Task TokenizeAndInfoReachTheNamedDeployment()
    {
        var (tokenized, tokens) = await PostAsync("/models/stories/beta/tokenize", new { inputs = Prompt });
        Assert.Equal(HttpStatusCode.OK, tokenized.StatusCode);
        Assert.Equal(5, tokens.AsArray().Count); // BOS + 4 pieces, as the single-model server reports in x-prompt-tokens

        var local = JsonNode.Parse(await Client.GetStringAsync("/models/stories/beta/info"))!;
        Assert.Equal("stories/beta", local["model_id"]!.GetValue<string>());
        Assert.Equal(256, local["max_total_tokens"]!.GetValue<int>());
        var remote = JsonNode.Parse(await Client.GetStringAsync("/models/remote/stories/info"))!;
        Assert.Equal("remote-inkwell", remote["model_id"]!.GetValue<string>());
    }

    [Fact]
    public async Task AnImplicitDeploymentChoiceIsReportedAndASuffixNameResolves()
    {
        var (response, _) = await PostAsync("/models/alpha/generate", Greedy(2));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("local/alpha", response.Headers.GetValues(GatewayEndpoints.DeploymentHeader).Single());
        Assert.Contains("No deployment named 'stories/alpha'", response.Headers.GetValues(GatewayEndpoints.WarningHeader).Single());
        var exact = await Client.PostAsJsonAsync("/models/remote/stories/generate", Greedy(2));
        Assert.False(exact.Headers.Contains(GatewayEndpoints.WarningHeader), "a deployment named like the model is no guess");
    }

    [Fact]
    public async Task AnUnknownModelIs404WithTheRegistrysMessage()
    {
        var (tgi, tgiJson) = await PostAsync("/models/nope/generate", Greedy(2));
        Assert.Equal(HttpStatusCode.NotFound, tgi.StatusCode);
        Assert.StartsWith("Unknown model 'nope'. Known: 'stories/alpha'", tgiJson["error"]!.GetValue<string>());

        var (openAI, openAIJson) = await PostAsync("/v1/chat/completions", new { model = "nope", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(HttpStatusCode.NotFound, openAI.StatusCode);
        Assert.Contains("Unknown model 'nope'", openAIJson["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task ADownRemoteDeploymentIs503ForItsModelOnly()
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (down, json) = await PostAsync("/models/down/stories/generate", Greedy(2));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.Equal("unhealthy", json["error_type"]!.GetValue<string>());
        Assert.Contains("down/stories", json["error"]!.GetValue<string>());
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10), $"took {clock.Elapsed}");

        var (local, _) = await PostAsync("/models/stories/alpha/generate", Greedy(2));
        var (remote, _) = await PostAsync("/models/remote/stories/generate", Greedy(2));
        Assert.Equal(HttpStatusCode.OK, local.StatusCode);
        Assert.Equal(HttpStatusCode.OK, remote.StatusCode);
    }

    [Fact]
    public async Task V1ModelsListsTheRegistrysModels()
    {
        var json = JsonNode.Parse(await Client.GetStringAsync("/v1/models"))!;

        Assert.Equal("list", json["object"]!.GetValue<string>());
        var data = json["data"]!.AsArray();
        Assert.Equal(["stories/alpha", "stories/beta", "remote/stories", "down/stories", "echo/chat", "grpc/stories"], data.Select(m => m!["id"]!.GetValue<string>()));
        Assert.Equal("Karpathy", data[0]!["owned_by"]!.GetValue<string>());
        Assert.Equal(1690848000, data[0]!["created"]!.GetValue<long>()); // 2023-08-01T00:00:00Z
    }

    [Fact]
    public async Task AnOpenAIDeploymentIsPickedByTheBodysModelAndItsStreamIsRelayedAsItArrives()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = "echo/chat", stream = true, messages = new[] { new { role = "user", content = "hi" } } }),
        };
        using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("echo/chat", response.Headers.GetValues(GatewayEndpoints.DeploymentHeader).Single());
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        // The upstream holds its second chunk until we have seen the first: a buffering gateway would time out here.
        var first = await reader.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("\"Hel\"", first);
        fixture.OpenAI.ReleaseSecondChunk.TrySetResult();
        var rest = await reader.ReadToEndAsync().WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Contains("\"lo\"", rest);
        Assert.EndsWith("data: [DONE]\n\n", rest);
        Assert.Equal("echo/chat", fixture.OpenAI.LastBody!["model"]!.GetValue<string>());
    }

    [Fact]
    public async Task V1CompletionsForALocalDeploymentReachesItsInProcessServer()
    {
        var (response, json) = await PostAsync("/v1/completions", new { model = "alpha", prompt = Prompt, max_tokens = 10, temperature = 0 });

        Assert.Equal("local/alpha", response.Headers.GetValues(GatewayEndpoints.DeploymentHeader).Single());
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith(json["choices"]![0]!["text"]!.GetValue<string>(), GoldenContinuation);
    }

    [Fact]
    public async Task ATgisDeploymentHasNoOpenAIRoutesAndSaysWhichToUse()
    {
        var (response, json) = await PostAsync("/v1/completions", new { model = "grpc/stories", prompt = Prompt });
        Assert.Equal(HttpStatusCode.NotImplemented, response.StatusCode);
        Assert.Contains("/models/grpc/stories/generate", json["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task MalformedGatewayRequestsGetClearErrors()
    {
        var (noModel, noModelJson) = await PostAsync("/v1/completions", new { prompt = "x" });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, noModel.StatusCode);
        Assert.Contains("needs a \"model\"", noModelJson["error"]!.GetValue<string>());

        var (badAction, badActionJson) = await PostAsync("/models/stories/alpha/explode", new { });
        Assert.Equal(HttpStatusCode.NotFound, badAction.StatusCode);
        Assert.Contains("/models/{model}/generate", badActionJson["error"]!.GetValue<string>());

        var wrongMethod = await Client.GetAsync("/models/stories/alpha/generate");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, wrongMethod.StatusCode);
    }
}
