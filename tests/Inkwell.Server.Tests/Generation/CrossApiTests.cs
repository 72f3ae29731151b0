using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Grpc.Core;
using Grpc.Net.Client;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Grpc;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Generation;

/// <summary>One server with its gRPC port: the three front ends must be three views of one generation path.</summary>
public sealed class CrossApiServer : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;
    public GrpcChannel Channel { get; private set; } = null!;
    public GenerationService.GenerationServiceClient Grpc { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0 });
        Channel = GrpcChannel.ForAddress($"http://{Server.GrpcTarget}");
        Grpc = new GenerationService.GenerationServiceClient(Channel);
    }

    public async Task DisposeAsync()
    {
        Channel.Dispose();
        await Server.DisposeAsync();
    }
}

public sealed class CrossApiTests(CrossApiServer fixture) : IClassFixture<CrossApiServer>
{
    private const string Prompt = "The little dog went to the park with his friend";

    private TestServer Server => fixture.Server;

    private async Task<JsonNode> PostAsync(string path, object body)
    {
        using var response = await Server.Client.PostAsJsonAsync(path, body);
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"{path}: {(int)response.StatusCode} {text}");
        return JsonNode.Parse(text)!;
    }

    private async Task<Inkwell.Server.Grpc.Fmaas.GenerationResponse> GrpcGenerateAsync(Parameters parameters)
    {
        var request = new BatchedGenerationRequest { Requests = { new Inkwell.Server.Grpc.Fmaas.GenerationRequest { Text = Prompt } }, Params = parameters };
        var response = await fixture.Grpc.GenerateAsync(request);
        return response.Responses.Single();
    }

    private string TokenString(int id) => Encoding.UTF8.GetString(Server.State.Tokenizer.TokenBytes(id));

    [Fact]
    public async Task TheSameSeededRequest_GivesTheSameTokens_OverTgiOpenAIAndGrpc()
    {
        const ulong seed = 1234;
        long tokenizedBefore = await TokenizedPrompts.CountAsync(Server.Client);
        var tgi = await PostAsync("/generate", new
        {
            inputs = Prompt,
            parameters = new { do_sample = true, temperature = 0.8, top_p = 0.9, seed, max_new_tokens = 30, details = true },
        });
        var openAI = await PostAsync("/v1/completions", new
        {
            model = "any-name", prompt = Prompt, temperature = 0.8, top_p = 0.9, seed, max_tokens = 30, logprobs = 0,
        });
        var grpc = await GrpcGenerateAsync(new Parameters
        {
            Method = DecodingMethod.Sample,
            Sampling = new SamplingParameters { Temperature = 0.8f, TopP = 0.9f, Seed = seed },
            Stopping = new StoppingCriteria { MaxNewTokens = 30 },
            Response = new ResponseOptions { GeneratedTokens = true },
        });

        var ids = tgi["details"]!["tokens"]!.AsArray().Select(t => t!["id"]!.GetValue<int>()).ToList();
        Assert.Equal(30, ids.Count);
        Assert.True(ids.Distinct().Count() > 5, "a degenerate sample proves little");
        // OpenAI reports each token's bytes as text, TGIS each token's vocabulary text.
        Assert.Equal(ids.Select(TokenString), openAI["choices"]![0]!["logprobs"]!["tokens"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal(ids.Select(Server.State.Tokenizer.TokenText), grpc.Tokens.Select(t => t.Text));
        string text = tgi["generated_text"]!.GetValue<string>();
        Assert.Equal(text, openAI["choices"]![0]!["text"]!.GetValue<string>());
        Assert.Equal(text, grpc.Text);
        Assert.Equal(seed, grpc.Seed);
        // The probe the permit-first test relies on does count: one prompt per API.
        Assert.Equal(tokenizedBefore + 3, await TokenizedPrompts.CountAsync(Server.Client));
    }

    [Fact]
    public async Task Truncation_KeepsBosAndTheLastTokens_OnAllThree()
    {
        const int keep = 5;
        var tokenizer = Server.State.Tokenizer;
        var full = tokenizer.EncodeToIds(Prompt);
        Assert.True(tokenizer.AddBos && full[0] == tokenizer.BosId && full.Count > keep + 2);
        // The rule written out: the BOS the tokenizer adds, then the last keep - 1 tokens of the text.
        var expected = new[] { full[0] }.Concat(full.Skip(full.Count - (keep - 1))).ToList();

        var tgi = await PostAsync("/generate", new
        {
            inputs = Prompt,
            parameters = new { truncate = keep, max_new_tokens = 12, details = true, decoder_input_details = true },
        });
        var openAI = await PostAsync("/v1/completions", new { model = "m", prompt = Prompt, truncate_prompt_tokens = keep, max_tokens = 12, temperature = 0 });
        var grpc = await GrpcGenerateAsync(new Parameters
        {
            TruncateInputTokens = keep,
            Stopping = new StoppingCriteria { MaxNewTokens = 12 },
            Response = new ResponseOptions { InputTokens = true },
        });

        Assert.Equal(expected, tgi["details"]!["prefill"]!.AsArray().Select(t => t!["id"]!.GetValue<int>()));
        Assert.Equal(keep, openAI["usage"]!["prompt_tokens"]!.GetValue<int>());
        Assert.Equal(expected.Select(tokenizer.TokenText), grpc.InputTokens.Select(t => t.Text));
        Assert.Equal(keep, (int)grpc.InputTokenCount);
        // Same prompt, same greedy continuation: the model saw the same tokens on every path.
        string text = tgi["generated_text"]!.GetValue<string>();
        Assert.Equal(text, openAI["choices"]![0]!["text"]!.GetValue<string>());
        Assert.Equal(text, grpc.Text);
        // And the tokenize RPC counts what Generate keeps.
        var tokenize = await fixture.Grpc.TokenizeAsync(
            new BatchedTokenizeRequest { Requests = { new TokenizeRequest { Text = Prompt } }, TruncateInputTokens = keep, ReturnTokens = true });
        var counted = tokenize.Responses.Single();
        Assert.Equal(expected.Select(tokenizer.TokenText), counted.Tokens);
    }
}

/// <summary>
/// The probe for "did any tokenizing happen": the generation service records every prompt's token count right after
/// tokenizing it, as tgi_request_raw_input_length (absent until the first observation).
/// </summary>
internal static class TokenizedPrompts
{
    public static async Task<long> CountAsync(HttpClient client)
    {
        string metrics = await client.GetStringAsync("/metrics");
        var line = metrics.Split('\n').SingleOrDefault(l => l.StartsWith("tgi_request_raw_input_length_count", StringComparison.Ordinal));
        return line is null ? 0 : long.Parse(line.Split(' ')[^1]);
    }
}

/// <summary>A server with no permits to give: every API must refuse before any tokenizing work.</summary>
public sealed class PermitFirstTests : IAsyncLifetime
{
    private TestServer _server = null!;

    public async Task InitializeAsync() => _server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0, MaxConcurrentRequests = 0 });

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private Task<long> TokenizedPromptsAsync() => TokenizedPrompts.CountAsync(_server.Client);

    [Fact]
    public async Task AnOverloadedServer_Answers429AndResourceExhausted_WithoutTokenizing()
    {
        Assert.Equal(0, await TokenizedPromptsAsync());

        using var tgi = await _server.Client.PostAsJsonAsync("/generate", new { inputs = "Once upon a time", parameters = new { max_new_tokens = 5 } });
        Assert.Equal(429, (int)tgi.StatusCode);
        Assert.Equal("overloaded", JsonNode.Parse(await tgi.Content.ReadAsStringAsync())!["error_type"]!.GetValue<string>());

        using var stream = await _server.Client.PostAsJsonAsync("/generate_stream", new { inputs = "Once upon a time" });
        Assert.Equal(429, (int)stream.StatusCode);

        using var openAI = await _server.Client.PostAsJsonAsync("/v1/completions", new { model = "m", prompt = "Once upon a time", max_tokens = 5 });
        Assert.Equal(429, (int)openAI.StatusCode);
        Assert.Equal("rate_limit_exceeded", JsonNode.Parse(await openAI.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());

        using var channel = GrpcChannel.ForAddress($"http://{_server.GrpcTarget}");
        var request = new BatchedGenerationRequest { Requests = { new Inkwell.Server.Grpc.Fmaas.GenerationRequest { Text = "Once upon a time" } } };
        var refused = await Assert.ThrowsAsync<RpcException>(() => new GenerationService.GenerationServiceClient(channel).GenerateAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, refused.StatusCode);

        Assert.Equal(0, await TokenizedPromptsAsync());
    }
}
