using System.Text.Json;
using Inkwell.Server.Grpc;

namespace Inkwell.Server.Tests.Grpc;

/// <summary>All four RPCs called by grpcio (Python) with protoc-generated messages.</summary>
public sealed class GrpcPythonClientTests : IAsyncLifetime
{
    private readonly FakeGenerationBackend _backend = new();
    private GrpcTestServer _server = null!;

    public async Task InitializeAsync() => _server = await GrpcTestServer.StartAsync(_backend);

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [PythonGrpcFact]
    public async Task ModelInfo()
    {
        var result = await CallAsync("unary", "ModelInfo", """{"model_id": "m"}""");
        var response = result.GetProperty("response");
        Assert.Equal("DECODER_ONLY", response.GetProperty("model_kind").GetString());
        Assert.Equal(2048, response.GetProperty("max_sequence_length").GetInt32());
        Assert.Equal(1024, response.GetProperty("max_new_tokens").GetInt32());
    }

    [PythonGrpcFact]
    public async Task Generate_BatchOfSeveralInputs_WithValidatedParameters()
    {
        var result = await CallAsync("unary", "Generate", """
            {"model_id": "m", "prefix_id": "p1",
             "requests": [{"text": "one"}, {"text": "two words"}, {"text": "three more words"}],
             "params": {"method": "SAMPLE", "sampling": {"temperature": 0.5, "top_k": 10, "seed": 1234},
                        "stopping": {"max_new_tokens": 2, "stop_sequences": ["\n"]},
                        "response": {"generated_tokens": true, "top_n_tokens": 3}}}
            """);

        var responses = result.GetProperty("response").GetProperty("responses").EnumerateArray().ToList();
        Assert.Equal(["echo: one", "echo: two words", "echo: three more words"], responses.Select(r => r.GetProperty("text").GetString()));
        Assert.Equal([1, 2, 2], responses.Select(r => r.GetProperty("generated_token_count").GetInt32()));
        Assert.All(responses, r => Assert.Equal("MAX_TOKENS", r.GetProperty("stop_reason").GetString()));
        Assert.All(responses, r => Assert.Equal("1234", r.GetProperty("seed").GetString()));

        Assert.Equal(3, _backend.Received.Count);
        Assert.All(_backend.Received, request =>
        {
            Assert.Equal("p1", request.PrefixId);
            Assert.Equal((0.5f, 10, 1234UL, 2), (request.Parameters.Temperature, request.Parameters.TopK, request.Parameters.Seed, request.Parameters.MaxNewTokens));
            Assert.Equal(["\n"], request.Parameters.StopSequences);
            Assert.Equal(3, request.Parameters.Response.TopNTokens);
        });
    }

    [PythonGrpcFact]
    public async Task GenerateStream()
    {
        var result = await CallAsync("stream", "GenerateStream", """{"request": {"text": "hello streaming world"}}""");

        var responses = result.GetProperty("responses").EnumerateArray().ToList();
        Assert.Equal(4, responses.Count);
        Assert.Equal(3, responses[0].GetProperty("input_token_count").GetInt32());
        Assert.Equal("hello streaming world", string.Concat(responses.Select(r => r.GetProperty("text").GetString())));
        Assert.Equal("EOS_TOKEN", responses[^1].GetProperty("stop_reason").GetString());
        Assert.Equal(20, Assert.Single(_backend.Received).Parameters.MaxNewTokens);
    }

    [PythonGrpcFact]
    public async Task Tokenize()
    {
        var result = await CallAsync("unary", "Tokenize", """
            {"requests": [{"text": "a bc"}, {"text": "def"}], "return_tokens": true, "return_offsets": true}
            """);

        var responses = result.GetProperty("response").GetProperty("responses").EnumerateArray().ToList();
        Assert.Equal([2, 1], responses.Select(r => r.GetProperty("token_count").GetInt32()));
        Assert.Equal(["a", "bc"], responses[0].GetProperty("tokens").EnumerateArray().Select(t => t.GetString()));
        var offset = responses[0].GetProperty("offsets")[1];
        Assert.Equal((2, 4), (offset.GetProperty("start").GetInt32(), offset.GetProperty("end").GetInt32()));
    }

    [PythonGrpcFact]
    public async Task InvalidParameter_IsInvalidArgument()
    {
        var result = await CallAsync("unary", "Generate", """
            {"requests": [{"text": "x"}], "params": {"response": {"generated_tokens": true, "top_n_tokens": 6}}}
            """);
        Assert.Equal("INVALID_ARGUMENT", result.GetProperty("code").GetString());
        Assert.Equal("top_n_tokens must be <= 5", result.GetProperty("details").GetString());
    }

    [PythonGrpcFact]
    public async Task InvalidParameter_OnStream_IsInvalidArgument()
    {
        var result = await CallAsync("stream", "GenerateStream", """
            {"request": {"text": "x"}, "params": {"stopping": {"max_new_tokens": 5000}}}
            """);
        Assert.Equal("INVALID_ARGUMENT", result.GetProperty("code").GetString());
        Assert.Equal("max_new_tokens must be <= 1024", result.GetProperty("details").GetString());
    }

    [PythonGrpcFact]
    public async Task Deadline_IsDeadlineExceeded_AndCancelsTheBackend()
    {
        var result = await CallAsync("unary", "Generate", $$$"""{"requests": [{"text": "{{{FakeGenerationBackend.WaitForCancel}}}"}]}""", timeoutSeconds: 0.5);

        Assert.Equal("DEADLINE_EXCEEDED", result.GetProperty("code").GetString());
        await _backend.CancellationObserved.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [PythonGrpcFact]
    public async Task ClientCancel_ReachesTheBackendToken()
    {
        var result = await CallAsync("cancel-after-first", "GenerateStream", $$$"""{"request": {"text": "{{{FakeGenerationBackend.WaitForCancel}}}"}}""");

        Assert.Equal("CANCELLED", result.GetProperty("after_cancel").GetString());
        await _backend.CancellationObserved.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [PythonGrpcFact]
    public async Task GzipCompressedRequests_UnaryAndStream()
    {
        var gzip = new Dictionary<string, string> { ["FMAAS_COMPRESSION"] = "gzip" };
        var unary = await PythonGrpcClient.CallAsync("unary", _server.Target, "Generate", """{"requests": [{"text": "squeezed words"}]}""", environment: gzip);
        Assert.Equal("OK", unary.GetProperty("code").GetString());
        Assert.Equal("echo: squeezed words", unary.GetProperty("response").GetProperty("responses")[0].GetProperty("text").GetString());

        var stream = await PythonGrpcClient.CallAsync("stream", _server.Target, "GenerateStream", """{"request": {"text": "one two"}}""", environment: gzip);
        Assert.Equal("one two", string.Concat(stream.GetProperty("responses").EnumerateArray().Select(r => r.GetProperty("text").GetString())));
    }

    [PythonGrpcFact]
    public async Task HealthCheck()
    {
        Assert.Equal("SERVING", (await CallAsync("unary", "Health")).GetProperty("response").GetProperty("status").GetString());
        var service = await CallAsync("unary", "Health", """{"service": "fmaas.GenerationService"}""");
        Assert.Equal("SERVING", service.GetProperty("response").GetProperty("status").GetString());
        Assert.Equal("NOT_FOUND", (await CallAsync("unary", "Health", """{"service": "no.Such"}""")).GetProperty("code").GetString());
    }

    [PythonGrpcFact]
    public async Task UnknownMethod_IsUnimplemented()
    {
        var result = await CallAsync("unary", "Embed");
        Assert.Equal("UNIMPLEMENTED", result.GetProperty("code").GetString());
    }

    private Task<JsonElement> CallAsync(string mode, string method, string request = "{}", double? timeoutSeconds = null) =>
        PythonGrpcClient.CallAsync(mode, _server.Target, method, request, timeoutSeconds);
}
