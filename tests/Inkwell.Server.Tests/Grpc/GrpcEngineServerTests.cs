using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Grpc;

/// <summary>A real Inkwell server (engine over stories260K) with its gRPC port, called by grpcio from Python.</summary>
public sealed class GrpcServerFixture : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;
    public async Task InitializeAsync() => Server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0 });
    public async Task DisposeAsync() => await Server.DisposeAsync();
}

public sealed class GrpcEngineServerTests(GrpcServerFixture fixture) : IClassFixture<GrpcServerFixture>
{
    private TestServer Server => fixture.Server;

    [PythonGrpcFact]
    public async Task Generate_GreedyText_EqualsTheHttpApi()
    {
        const string prompt = "Once upon a time";
        var http = await GenerateHttpAsync(prompt, maxNewTokens: 40);

        var result = await CallAsync("unary", "Generate", $$$$"""
            {"requests": [{"text": "{{{{prompt}}}}"}], "params": {"stopping": {"max_new_tokens": 40}}}
            """);

        Assert.Equal("OK", result.GetProperty("code").GetString());
        var response = Assert.Single(result.GetProperty("response").GetProperty("responses").EnumerateArray());
        Assert.Equal(http.GetProperty("generated_text").GetString(), response.GetProperty("text").GetString());
        Assert.Equal(http.GetProperty("details").GetProperty("generated_tokens").GetInt32(), response.GetProperty("generated_token_count").GetInt32());
        string expectedReason = http.GetProperty("details").GetProperty("finish_reason").GetString() == "length" ? "MAX_TOKENS" : "EOS_TOKEN";
        Assert.Equal(expectedReason, response.GetProperty("stop_reason").GetString());
        Assert.Equal("0", response.GetProperty("seed").GetString());
    }

    [PythonGrpcFact]
    public async Task Generate_BatchOfSeveralInputs_EachAsTheHttpApi()
    {
        string[] prompts = ["Once upon a time", "The little dog", "Lily wanted to", "One day, a big"];
        var expected = new List<string?>();
        foreach (var prompt in prompts) expected.Add((await GenerateHttpAsync(prompt, maxNewTokens: 25)).GetProperty("generated_text").GetString());

        var requests = string.Join(", ", prompts.Select(p => $$$$"""{"text": "{{{{p}}}}"}"""));
        var result = await CallAsync("unary", "Generate", $$$$"""
            {"requests": [{{{{requests}}}}], "params": {"stopping": {"max_new_tokens": 25}, "response": {"input_text": true}}}
            """);

        var responses = result.GetProperty("response").GetProperty("responses").EnumerateArray().ToList();
        Assert.Equal(prompts.Select((p, i) => p + expected[i]), responses.Select(r => r.GetProperty("text").GetString()));
        Assert.Equal(prompts.Select(p => Server.State.Tokenizer.EncodeToIds(p).Count), responses.Select(r => r.GetProperty("input_token_count").GetInt32()));
    }

    [PythonGrpcFact]
    public async Task GenerateStream_PiecesAddUpToTheUnaryResult()
    {
        const string parameters = """
            {"method": "SAMPLE", "sampling": {"temperature": 0.8, "top_k": 20, "seed": 4242}, "stopping": {"max_new_tokens": 30}}
            """;
        var stream = await CallAsync("stream", "GenerateStream", $$$$"""{"request": {"text": "The little dog"}, "params": {{{{parameters}}}}}""");
        var unary = await CallAsync("unary", "Generate", $$$$"""{"requests": [{"text": "The little dog"}], "params": {{{{parameters}}}}}""");

        Assert.Equal("OK", stream.GetProperty("code").GetString());
        var messages = stream.GetProperty("responses").EnumerateArray().ToList();
        var single = Assert.Single(unary.GetProperty("response").GetProperty("responses").EnumerateArray());
        Assert.Equal(single.GetProperty("input_token_count").GetInt32(), messages[0].GetProperty("input_token_count").GetInt32());
        Assert.Equal("4242", messages[0].GetProperty("seed").GetString());
        Assert.Equal(single.GetProperty("text").GetString(), string.Concat(messages.Select(m => m.GetProperty("text").GetString())));
        Assert.Equal(single.GetProperty("stop_reason").GetString(), messages[^1].GetProperty("stop_reason").GetString());
        Assert.Equal(single.GetProperty("generated_token_count").GetInt32(), messages[^1].GetProperty("generated_token_count").GetInt32());
        Assert.All(messages.SkipLast(1), m => Assert.Equal("NOT_FINISHED", m.GetProperty("stop_reason").GetString()));
        Assert.True(messages.Count > 3, "the stream came in pieces");
    }

    [PythonGrpcFact]
    public async Task GenerateStream_WithTokenDetail_MatchesUnary()
    {
        const string parameters = """
            {"stopping": {"max_new_tokens": 12}, "response": {"input_text": true, "input_tokens": true, "generated_tokens": true, "token_logprobs": true, "token_ranks": true}}
            """;
        var stream = await CallAsync("stream", "GenerateStream", $$"""{"request": {"text": "The little dog"}, "params": {{parameters}}}""");
        var unary = await CallAsync("unary", "Generate", $$"""{"requests": [{"text": "The little dog"}], "params": {{parameters}}}""");
        var single = unary.GetProperty("response").GetProperty("responses")[0];
        var messages = stream.GetProperty("responses").EnumerateArray().ToList();

        // The input text comes first (as TGIS: in the first message), then the generated text.
        Assert.Equal(single.GetProperty("text").GetString(), string.Concat(messages.Select(m => m.GetProperty("text").GetString())));
        var streamedTokens = messages.SelectMany(m => m.GetProperty("tokens").EnumerateArray()).ToList();
        var unaryTokens = single.GetProperty("tokens").EnumerateArray().ToList();
        Assert.Equal(12, streamedTokens.Count);
        Assert.Equal(unaryTokens.Select(t => t.GetRawText()), streamedTokens.Select(t => t.GetRawText()));
        var streamedInput = Assert.Single(messages, m => m.GetProperty("input_tokens").GetArrayLength() > 0).GetProperty("input_tokens");
        Assert.Equal(single.GetProperty("input_tokens").GetRawText(), streamedInput.GetRawText());
    }

    [PythonGrpcFact]
    public async Task Generate_TokenDetails_AreConsistent()
    {
        var result = await CallAsync("unary", "Generate", """
            {"requests": [{"text": "Once upon a time"}],
             "params": {"stopping": {"max_new_tokens": 8},
                        "response": {"generated_tokens": true, "input_tokens": true, "token_logprobs": true, "token_ranks": true, "top_n_tokens": 3}}}
            """);
        var response = Assert.Single(result.GetProperty("response").GetProperty("responses").EnumerateArray());
        var tokens = response.GetProperty("tokens").EnumerateArray().ToList();
        Assert.Equal(8, tokens.Count);
        foreach (var token in tokens)
        {
            // Greedy: each token is the most likely one, so it ranks first and heads its own top-n list.
            Assert.Equal(1, token.GetProperty("rank").GetInt32());
            var top = token.GetProperty("top_tokens").EnumerateArray().ToList();
            Assert.Equal(3, top.Count);
            Assert.Equal(token.GetProperty("text").GetString(), top[0].GetProperty("text").GetString());
            Assert.Equal(token.GetProperty("logprob").GetDouble(), top[0].GetProperty("logprob").GetDouble(), 4);
            Assert.True(top[0].GetProperty("logprob").GetDouble() >= top[1].GetProperty("logprob").GetDouble());
        }

        var ids = Server.State.Tokenizer.EncodeToIds("Once upon a time");
        var input = response.GetProperty("input_tokens").EnumerateArray().ToList();
        Assert.Equal(ids.Select(id => Server.State.Tokenizer.TokenText(id)), input.Select(t => t.GetProperty("text").GetString()));
        Assert.Equal("NaN", input[0].GetProperty("logprob").GetString());
        Assert.All(input.Skip(1), t => Assert.True(t.GetProperty("logprob").GetDouble() < 0));
    }

    [PythonGrpcFact]
    public async Task Generate_StopSequence_WithAndWithoutIncludingIt()
    {
        var full = await GenerateHttpAsync("Once upon a time", maxNewTokens: 40);
        string text = full.GetProperty("generated_text").GetString()!;
        // A stop sequence cut from the greedy text itself, so it is sure to occur.
        string stop = text.Substring(10, 3);
        string expectedWith = text[..(text.IndexOf(stop, StringComparison.Ordinal) + stop.Length)];

        foreach (var (include, expected) in new[] { (true, expectedWith), (false, expectedWith[..^stop.Length]) })
        {
            var result = await CallAsync("unary", "Generate", $$$$"""
                {"requests": [{"text": "Once upon a time"}],
                 "params": {"stopping": {"max_new_tokens": 40, "stop_sequences": [{{{{JsonSerializer.Serialize(stop)}}}}], "include_stop_sequence": {{{{(include ? "true" : "false")}}}}}}}
                """);
            var response = Assert.Single(result.GetProperty("response").GetProperty("responses").EnumerateArray());
            Assert.Equal(expected, response.GetProperty("text").GetString());
            Assert.Equal("STOP_SEQUENCE", response.GetProperty("stop_reason").GetString());
            Assert.Equal(stop, response.GetProperty("stop_sequence").GetString());
        }
    }

    [PythonGrpcFact]
    public async Task Generate_TruncateInputTokens_KeepsBosAndTheLastTokens()
    {
        var result = await CallAsync("unary", "Generate", """
            {"requests": [{"text": "Once upon a time there was a little girl"}],
             "params": {"truncate_input_tokens": 4, "stopping": {"max_new_tokens": 1}, "response": {"input_tokens": true}}}
            """);
        var response = Assert.Single(result.GetProperty("response").GetProperty("responses").EnumerateArray());
        var tokenizer = Server.State.Tokenizer;
        var ids = tokenizer.EncodeToIds("Once upon a time there was a little girl");
        int[] expected = [ids[0], .. ids.Skip(ids.Count - 3)];
        Assert.Equal(4, response.GetProperty("input_token_count").GetInt32());
        Assert.Equal(expected.Select(tokenizer.TokenText), response.GetProperty("input_tokens").EnumerateArray().Select(t => t.GetProperty("text").GetString()));
    }

    [PythonGrpcFact]
    public async Task LengthPenalty_EndsTheTextEarlyWithEos()
    {
        var plain = await GenerateHttpAsync("Once upon a time", maxNewTokens: 60);
        Assert.Equal("length", plain.GetProperty("details").GetProperty("finish_reason").GetString());

        var result = await CallAsync("unary", "Generate", """
            {"requests": [{"text": "Once upon a time"}],
             "params": {"stopping": {"max_new_tokens": 60}, "decoding": {"repetition_penalty": 1.0, "length_penalty": {"start_index": 5, "decay_factor": 3.0}}}}
            """);
        var response = Assert.Single(result.GetProperty("response").GetProperty("responses").EnumerateArray());
        Assert.Equal("EOS_TOKEN", response.GetProperty("stop_reason").GetString());
        int count = response.GetProperty("generated_token_count").GetInt32();
        Assert.InRange(count, 6, 59);
        // Until the penalty starts the text is the plain greedy text.
        var tokens = await CallAsync("unary", "Generate", """
            {"requests": [{"text": "Once upon a time"}], "params": {"stopping": {"max_new_tokens": 5}}}
            """);
        Assert.StartsWith(tokens.GetProperty("response").GetProperty("responses")[0].GetProperty("text").GetString()!, response.GetProperty("text").GetString());
    }

    [PythonGrpcFact]
    public async Task TimeLimit_EndsWithTimeLimit()
    {
        var result = await CallAsync("unary", "Generate", """
            {"requests": [{"text": "Once upon a time"}],
             "params": {"stopping": {"max_new_tokens": 1024, "min_new_tokens": 1024, "time_limit_millis": 10}}}
            """);
        var response = Assert.Single(result.GetProperty("response").GetProperty("responses").EnumerateArray());
        Assert.Equal("TIME_LIMIT", response.GetProperty("stop_reason").GetString());
        Assert.InRange(response.GetProperty("generated_token_count").GetInt32(), 1, 1023);
    }

    [PythonGrpcFact]
    public async Task Tokenize_AndModelInfo()
    {
        var tokenize = await CallAsync("unary", "Tokenize", """{"requests": [{"text": "Once upon a time"}], "return_tokens": true}""");
        var tokenizer = Server.State.Tokenizer;
        var expected = tokenizer.EncodeToIds("Once upon a time").Select(tokenizer.TokenText).ToList();
        var response = Assert.Single(tokenize.GetProperty("response").GetProperty("responses").EnumerateArray());
        Assert.Equal(expected.Count, response.GetProperty("token_count").GetInt32());
        Assert.Equal(expected, response.GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));

        var info = (await CallAsync("unary", "ModelInfo")).GetProperty("response");
        Assert.Equal("DECODER_ONLY", info.GetProperty("model_kind").GetString());
        Assert.Equal(Server.State.Validator.Limits.MaxTotalTokens, info.GetProperty("max_sequence_length").GetInt32());
        Assert.Equal(1024, info.GetProperty("max_new_tokens").GetInt32());
    }

    [PythonGrpcFact]
    public async Task InvalidParameter_IsInvalidArgument()
    {
        var result = await CallAsync("unary", "Generate", """
            {"requests": [{"text": "x"}], "params": {"stopping": {"max_new_tokens": 5000}}}
            """);
        Assert.Equal("INVALID_ARGUMENT", result.GetProperty("code").GetString());
        Assert.Equal("max_new_tokens must be <= 1024", result.GetProperty("details").GetString());
    }

    [PythonGrpcFact]
    public async Task Deadline_IsDeadlineExceeded_AndTheRequestsLeaveTheEngine()
    {
        // 32 inputs x 1000 tokens would keep the engine busy for a long while; the deadline must cut it short.
        var requests = string.Join(", ", Enumerable.Range(0, 32).Select(i => $$$$"""{"text": "Story number {{{{i}}}}"}"""));
        long before = Server.State.Service.Engine.Stats.ForwardTokens;
        var result = await CallAsync("unary", "Generate", $$$$"""
            {"requests": [{{{{requests}}}}], "params": {"stopping": {"max_new_tokens": 1000, "min_new_tokens": 1000}}}
            """, timeoutSeconds: 0.3);

        Assert.Equal("DEADLINE_EXCEEDED", result.GetProperty("code").GetString());
        await WaitForIdleEngineAsync();
        long done = Server.State.Service.Engine.Stats.ForwardTokens - before;
        Assert.True(done < 32 * 1000, $"the engine computed {done} tokens: it ran the requests to the end");
        Assert.Equal(0, Server.State.Service.InFlight);
    }

    [PythonGrpcFact]
    public async Task ClientCancel_TakesTheStreamOutOfTheEngine()
    {
        long before = Server.State.Service.Engine.Stats.ForwardTokens;
        var result = await CallAsync("cancel-after-first", "GenerateStream", """
            {"request": {"text": "Once upon a time"}, "params": {"stopping": {"max_new_tokens": 1024, "min_new_tokens": 1024}}}
            """);

        Assert.Equal("CANCELLED", result.GetProperty("after_cancel").GetString());
        await WaitForIdleEngineAsync();
        Assert.True(Server.State.Service.Engine.Stats.ForwardTokens - before < 1024);
    }

    private async Task WaitForIdleEngineAsync()
    {
        var stats = Server.State.Service.Engine.Stats;
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((Volatile.Read(ref stats.RunningRequests) > 0 || Volatile.Read(ref stats.WaitingRequests) > 0 || Server.State.Service.InFlight > 0)
            && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }
        Assert.Equal(0, Volatile.Read(ref stats.RunningRequests) + Volatile.Read(ref stats.WaitingRequests));
    }

    private async Task<JsonElement> GenerateHttpAsync(string prompt, int maxNewTokens)
    {
        using var response = await Server.Client.PostAsJsonAsync("/generate",
            new { inputs = prompt, parameters = new { max_new_tokens = maxNewTokens, details = true } });
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private Task<JsonElement> CallAsync(string mode, string method, string request = "{}", double? timeoutSeconds = null) =>
        PythonGrpcClient.CallAsync(mode, Server.GrpcTarget, method, request, timeoutSeconds);
}

public sealed class GrpcOverloadTests
{
    [PythonGrpcFact]
    public async Task BatchLargerThanThePermits_IsResourceExhausted()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0, MaxConcurrentRequests = 2 });
        var result = await PythonGrpcClient.CallAsync("unary", server.GrpcTarget, "Generate", """
            {"requests": [{"text": "a"}, {"text": "b"}, {"text": "c"}]}
            """);
        Assert.Equal("RESOURCE_EXHAUSTED", result.GetProperty("code").GetString());
        Assert.Equal("Model is overloaded", result.GetProperty("details").GetString());

        var fits = await PythonGrpcClient.CallAsync("unary", server.GrpcTarget, "Generate", """{"requests": [{"text": "a"}, {"text": "b"}]}""");
        Assert.Equal("OK", fits.GetProperty("code").GetString());
    }

}

/// <summary>The real server's two listeners, called with Grpc.Net.Client and HttpClient.</summary>
public sealed class GrpcPortSeparationTests
{
    [Fact]
    public async Task Ports_KeepTheirOwnApi()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0 });
        Assert.NotEqual(0, server.GrpcPort);
        using var health = await server.Client.GetAsync("/health");
        Assert.True(health.IsSuccessStatusCode);
        using var grpcOnHttp = await server.Client.PostAsync("/fmaas.GenerationService/ModelInfo", new ByteArrayContent([]));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, grpcOnHttp.StatusCode);
        var grpcTyped = new ByteArrayContent([0, 0, 0, 0, 0]);
        grpcTyped.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");
        using var healthOnHttp = await server.Client.PostAsync("/grpc.health.v1.Health/Check", grpcTyped);
        Assert.Equal(System.Net.HttpStatusCode.NotFound, healthOnHttp.StatusCode);

        using var channel = GrpcChannel.ForAddress($"http://{server.GrpcTarget}");
        var info = await new Inkwell.Server.Grpc.Fmaas.GenerationService.GenerationServiceClient(channel).ModelInfoAsync(new());
        Assert.Equal((uint)server.State.Validator.Limits.MaxTotalTokens, info.MaxSequenceLength);
        var serving = await new Health.HealthClient(channel).CheckAsync(new());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, serving.Status);

        // POST /v1/completions is an OpenAI route on the HTTP port; on the gRPC port it is no method at all.
        var completions = new Method<Empty, Empty>(
            MethodType.Unary, "v1", "completions",
            Marshallers.Create(m => m.ToByteArray(), Empty.Parser.ParseFrom),
            Marshallers.Create(m => m.ToByteArray(), Empty.Parser.ParseFrom));
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            channel.CreateCallInvoker().AsyncUnaryCall(completions, null, new(), new()).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }
}

public sealed class GrpcSequenceLimitTests
{
    [PythonGrpcFact]
    public async Task SequenceLimit_LowersMaxNewTokens_ToTokenLimit_AndRefusesLongInputs()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0, MaxTotalTokens = 20 });
        int input = server.State.Tokenizer.EncodeToIds("Once upon a time").Count;

        var result = await PythonGrpcClient.CallAsync("unary", server.GrpcTarget, "Generate", """
            {"requests": [{"text": "Once upon a time"}], "params": {"stopping": {"max_new_tokens": 100}}}
            """);
        var response = Assert.Single(result.GetProperty("response").GetProperty("responses").EnumerateArray());
        Assert.Equal("TOKEN_LIMIT", response.GetProperty("stop_reason").GetString());
        Assert.Equal(20 - input, response.GetProperty("generated_token_count").GetInt32());

        string longText = string.Join(' ', Enumerable.Repeat("dog", 30));
        int longInput = server.State.Tokenizer.EncodeToIds(longText).Count;
        var refused = await PythonGrpcClient.CallAsync("unary", server.GrpcTarget, "Generate", $$"""{"requests": [{"text": "{{longText}}"}]}""");
        Assert.Equal("INVALID_ARGUMENT", refused.GetProperty("code").GetString());
        Assert.Equal($"input tokens ({longInput}) plus prefix length (0) must be < 20", refused.GetProperty("details").GetString());
    }
}
