using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Inkwell.Engine;
using Inkwell.Engine.Requests;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;

namespace Inkwell.Server.Tests.Lora;

/// <summary>A server with three LoRA adapters (tests/fixtures/lora) and its gRPC port.</summary>
public sealed class LoraServer : IAsyncLifetime
{
    public static string Fixture(string name) => RepoPaths.InRoot("tests", "fixtures", "lora", name);

    public TestServer Server { get; private set; } = null!;
    public GrpcChannel Channel { get; private set; } = null!;
    public GenerationService.GenerationServiceClient Grpc { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync(new ServerOptions
        {
            GrpcPort = 0,
            LoraAdapters = [("alpha", Fixture("alpha")), ("rs", Fixture("rs")), ("alpha-gguf", Fixture("alpha.gguf"))],
        });
        Channel = GrpcChannel.ForAddress($"http://{Server.GrpcTarget}");
        Grpc = new GenerationService.GenerationServiceClient(Channel);
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }
}

/// <summary>
/// Adapter selection per API (TGI adapter_id, OpenAI model, TGIS adapter_id) against the merged model's greedy tokens
/// (merged in numpy by make-lora.py), and the refusal of an unknown adapter in each API's shape, naming the loaded ones.
/// </summary>
public sealed class LoraServerTests(LoraServer fixture) : IClassFixture<LoraServer>
{
    private const string Prompt = "Once upon a time";
    private const int MaxNew = 20;
    private const string Loaded = "alpha, rs, alpha-gguf";

    private TestServer Server => fixture.Server;

    private async Task<(HttpStatusCode Status, JsonNode Body)> PostAsync(string path, object body)
    {
        using var response = await Server.Client.PostAsJsonAsync(path, body);
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    /// <summary>Greedy ids of a model file run alone on the engine, from the server's own prompt ids.</summary>
    private async Task<int[]> GreedyIdsAsync(string modelPath)
    {
        using var model = ModelLoader.Load(modelPath, Path.Combine(RepoPaths.EmbeddedModelDir, "tok512.bin"));
        await using var engine = new InferenceEngine(model.CreateModel(new WorkerPool(1)), model.Tokenizer, new EngineOptions { KvCacheTokens = 512 });
        var request = new Inkwell.Engine.Requests.GenerationRequest { PromptTokens = Server.State.Tokenizer.EncodeToIds(Prompt), Stopping = new StoppingParameters { MaxNewTokens = MaxNew, IgnoreEos = true } };
        await foreach (var e in engine.Submit(request).ReadAllAsync())
            if (e is GenerationFinished done) return [.. done.Result.Tokens.Select(t => t.Id)];
        throw new InvalidOperationException("no result");
    }

    private async Task<(int[] Ids, string Text)> TgiAsync(string? adapter)
    {
        var (status, body) = await PostAsync("/generate", new
        {
            inputs = Prompt,
            parameters = new { max_new_tokens = MaxNew, details = true, adapter_id = adapter, ignore_eos = true },
        });
        Assert.True(status == HttpStatusCode.OK, body.ToJsonString());
        return ([.. body["details"]!["tokens"]!.AsArray().Select(t => t!["id"]!.GetValue<int>())], body["generated_text"]!.GetValue<string>());
    }

    [Fact]
    public async Task Each_api_selects_the_adapter_and_gets_the_merged_models_tokens()
    {
        var (alphaIds, alphaText) = await TgiAsync("alpha");
        Assert.Equal(await GreedyIdsAsync(LoraServer.Fixture("merged-alpha.bin")), alphaIds);
        Assert.Equal(await GreedyIdsAsync(LoraServer.Fixture("merged-rs.bin")), (await TgiAsync("rs")).Ids);
        Assert.Equal(alphaIds, (await TgiAsync("alpha-gguf")).Ids);
        var (baseIds, baseText) = await TgiAsync(null);
        Assert.Equal(await GreedyIdsAsync(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K.bin")), baseIds);
        Assert.NotEqual(baseIds, alphaIds);

        var (status, completion) = await PostAsync("/v1/completions", new { model = "alpha", prompt = Prompt, max_tokens = MaxNew, temperature = 0, ignore_eos = true });
        Assert.True(status == HttpStatusCode.OK, completion.ToJsonString());
        Assert.Equal(alphaText, completion["choices"]![0]!["text"]!.GetValue<string>());
        Assert.Equal("alpha", completion["model"]!.GetValue<string>());
        // The served name is the base model.
        (status, completion) = await PostAsync("/v1/completions", new { model = Server.State.ModelId, prompt = Prompt, max_tokens = MaxNew, temperature = 0, ignore_eos = true });
        Assert.Equal(baseText, completion["choices"]![0]!["text"]!.GetValue<string>());

        var grpc = await fixture.Grpc.GenerateAsync(new BatchedGenerationRequest
        {
            AdapterId = "alpha",
            Requests = { new Inkwell.Server.Grpc.Fmaas.GenerationRequest { Text = Prompt } },
            Params = new Parameters { Stopping = new StoppingCriteria { MaxNewTokens = (uint)MaxNew, MinNewTokens = (uint)MaxNew } },
        });
        Assert.Equal(alphaText, grpc.Responses.Single().Text);
    }

    [Fact]
    public async Task An_unknown_adapter_is_refused_in_each_apis_shape_naming_the_loaded_ones()
    {
        var (status, body) = await PostAsync("/generate", new { inputs = Prompt, parameters = new { adapter_id = "beta" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, status);
        Assert.Equal("validation", body["error_type"]!.GetValue<string>());
        Assert.Contains("'beta'", body["error"]!.GetValue<string>());
        Assert.Contains(Loaded, body["error"]!.GetValue<string>());

        (status, body) = await PostAsync("/v1/chat/completions", new { model = "beta", messages = new[] { new { role = "user", content = "hi" } } });
        Assert.Equal(HttpStatusCode.NotFound, status);
        Assert.Equal("model_not_found", body["error"]!["code"]!.GetValue<string>());
        Assert.Contains(Loaded, body["error"]!["message"]!.GetValue<string>());
        (status, _) = await PostAsync("/v1/completions", new { model = "beta", prompt = Prompt });
        Assert.Equal(HttpStatusCode.NotFound, status);

        var e = await Assert.ThrowsAsync<RpcException>(() => fixture.Grpc.GenerateAsync(new BatchedGenerationRequest
        {
            AdapterId = "beta",
            Requests = { new Inkwell.Server.Grpc.Fmaas.GenerationRequest { Text = Prompt } },
        }).ResponseAsync);
        Assert.Equal(StatusCode.InvalidArgument, e.StatusCode);
        Assert.Contains(Loaded, e.Status.Detail);
    }

    [Fact]
    public async Task Info_and_models_list_the_adapters()
    {
        var info = JsonNode.Parse(await Server.Client.GetStringAsync("/info"))!;
        Assert.Equal(["alpha", "rs", "alpha-gguf"], info["lora_adapters"]!.AsArray().Select(n => n!.GetValue<string>()));
        var models = JsonNode.Parse(await Server.Client.GetStringAsync("/v1/models"))!["data"]!.AsArray();
        Assert.Equal([Server.State.ModelId, "alpha", "rs", "alpha-gguf"], models.Select(m => m!["id"]!.GetValue<string>()));
        Assert.Equal(Server.State.ModelId, models[1]!["parent"]!.GetValue<string>());
        using var one = await Server.Client.GetAsync("/v1/models/rs");
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
    }

    [Fact]
    public async Task Without_adapters_adapter_id_is_refused_not_ignored()
    {
        await using var plain = await TestServer.StartAsync();
        using var response = await plain.Client.PostAsJsonAsync("/generate", new { inputs = Prompt, parameters = new { adapter_id = "alpha" } });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("no adapters", await response.Content.ReadAsStringAsync());
        var info = JsonNode.Parse(await plain.Client.GetStringAsync("/info"))!;
        Assert.Null(info["lora_adapters"]);
    }
}
