using System.Net;
using Inkwell.Server.Grpc;
using Inkwell.Server.Grpc.Fmaas;

namespace Inkwell.Server.Tests.Grpc;

/// <summary>The wire protocol, checked byte by byte with HttpClient over cleartext HTTP/2 (prior knowledge).</summary>
public sealed class GrpcHttpClientTests : IAsyncLifetime
{
    private readonly FakeGenerationBackend _backend = new();
    private GrpcTestServer _server = null!;
    private HttpClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await GrpcTestServer.StartAsync(_backend, configureGrpc: options => options.MaxReceiveMessageSize = 64 * 1024);
        _client = RawGrpcClient.Create(_server.BaseAddress());
    }

    public async Task DisposeAsync()
    {
        _client.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task Unary_SendsOneMessageThenStatusInTrailers()
    {
        var response = await SendAsync("ModelInfo", new ModelInfoRequest { ModelId = "m" });

        Assert.Equal(HttpStatusCode.OK, response.HttpStatus);
        Assert.Equal(HttpVersion.Version20, response.HttpVersion);
        Assert.Equal("application/grpc", response.ContentType);
        Assert.Equal("0", response.TrailerStatus);
        Assert.Null(response.HeaderStatus);
        var info = ModelInfoResponse.Parser.ParseFrom(Assert.Single(response.Messages));
        Assert.Equal((2048u, 1024u), (info.MaxSequenceLength, info.MaxNewTokens));
    }

    [Fact]
    public async Task Generate_AnswersEachInputInOrder()
    {
        var request = new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = "a b" }, new GenerationRequest { Text = "c" } } };
        var response = await SendAsync("Generate", request);

        var batch = BatchedGenerationResponse.Parser.ParseFrom(Assert.Single(response.Messages));
        Assert.Equal(["echo: a b", "echo: c"], batch.Responses.Select(r => r.Text));
    }

    [Fact]
    public async Task InvalidParameters_AreTrailersOnlyInvalidArgument()
    {
        var request = new BatchedGenerationRequest
        {
            Requests = { new GenerationRequest { Text = "x" } },
            Params = new Parameters { Method = DecodingMethod.Sample, Sampling = new SamplingParameters { TopP = 2f } },
        };
        var response = await SendAsync("Generate", request);

        Assert.True(response.IsTrailersOnly);
        Assert.Equal(GrpcStatusCode.InvalidArgument, response.Status);
        Assert.Equal("top_p must be > 0.0 and <= 1.0", response.HeaderMessage);
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task BackendStatus_ReachesTheClient()
    {
        var response = await SendAsync("Generate", new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = FakeGenerationBackend.Fail } } });
        Assert.Equal(GrpcStatusCode.ResourceExhausted, response.Status);
        Assert.Equal("Model is overloaded", response.Message);
    }

    [Fact]
    public async Task Stream_FlushesEachMessageAsItIsProduced()
    {
        var request = RawGrpcClient.Request("GenerateStream", RawGrpcClient.Frame(new SingleGenerationRequest { Request = new GenerationRequest { Text = "gated two three" } }));
        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();

        // The backend holds after the first word until the gate opens, so these can only arrive if flushed.
        Assert.Equal(3u, GenerationResponse.Parser.ParseFrom(await RawGrpcClient.ReadFrameAsync(body)).InputTokenCount);
        Assert.Equal("gated ", GenerationResponse.Parser.ParseFrom(await RawGrpcClient.ReadFrameAsync(body)).Text);
        _backend.StreamGate.SetResult();

        var rest = RawGrpcClient.SplitFrames(await ReadToEndAsync(body)).Select(GenerationResponse.Parser.ParseFrom).ToList();
        Assert.Equal(["two ", "three"], rest.Select(r => r.Text));
        Assert.Equal(StopReason.EosToken, rest[^1].StopReason);
        Assert.Equal("0", Assert.Single(response.TrailingHeaders.GetValues("grpc-status")));
    }

    [Fact]
    public async Task Deadline_CancelsTheBackendAndEndsWithDeadlineExceeded()
    {
        var request = RawGrpcClient.Request("Generate",
            RawGrpcClient.Frame(new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = FakeGenerationBackend.WaitForCancel } } }),
            timeout: "200m");
        var response = await RawGrpcClient.SendAsync(_client, request);

        Assert.Equal(GrpcStatusCode.DeadlineExceeded, response.Status);
        Assert.True(_backend.CancellationObserved.Task.IsCompleted);
    }

    [Fact]
    public async Task Deadline_DuringStream_EndsWithDeadlineExceededTrailers()
    {
        var request = RawGrpcClient.Request("GenerateStream",
            RawGrpcClient.Frame(new SingleGenerationRequest { Request = new GenerationRequest { Text = FakeGenerationBackend.WaitForCancel } }),
            timeout: "300000u");
        var response = await RawGrpcClient.SendAsync(_client, request);

        Assert.Single(response.Messages);
        Assert.Equal(((int)GrpcStatusCode.DeadlineExceeded).ToString(System.Globalization.CultureInfo.InvariantCulture), response.TrailerStatus);
    }

    [Fact]
    public async Task ClientCancellation_CancelsTheBackendToken()
    {
        var request = RawGrpcClient.Request("GenerateStream",
            RawGrpcClient.Frame(new SingleGenerationRequest { Request = new GenerationRequest { Text = FakeGenerationBackend.WaitForCancel } }));
        using (var response = await _client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead))
        {
            await using var body = await response.Content.ReadAsStreamAsync();
            await RawGrpcClient.ReadFrameAsync(body);
        } // disposing mid-stream resets the HTTP/2 stream

        await _backend.CancellationObserved.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task CompressedMessage_IsUnimplementedWithAcceptEncoding()
    {
        var request = RawGrpcClient.Request("ModelInfo", RawGrpcClient.Frame(new ModelInfoRequest(), compressedFlag: 1));
        request.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");
        using var response = await _client.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("12", Assert.Single(response.Headers.GetValues("grpc-status")));
        Assert.Equal("identity", Assert.Single(response.Headers.GetValues("grpc-accept-encoding")));
    }

    [Fact]
    public async Task OversizeMessage_IsResourceExhausted()
    {
        var request = new BatchedTokenizeRequest { Requests = { new TokenizeRequest { Text = new string('x', 70 * 1024) } } };
        var response = await SendAsync("Tokenize", request);

        Assert.Equal(GrpcStatusCode.ResourceExhausted, response.Status);
        Assert.StartsWith("Received message larger than max (", response.Message);
    }

    [Fact]
    public async Task UnknownMethod_IsUnimplemented()
    {
        var response = await SendAsync("Embed", new ModelInfoRequest());
        Assert.Equal(GrpcStatusCode.Unimplemented, response.Status);
        Assert.Equal("Method is unimplemented: /fmaas.GenerationService/Embed", response.Message);
    }

    [Fact]
    public async Task NonGrpcContentType_Is415()
    {
        var response = await RawGrpcClient.SendAsync(_client, RawGrpcClient.Request("ModelInfo", [], contentType: "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.HttpStatus);
        Assert.Equal(GrpcStatusCode.Internal, response.Status);
    }

    [Fact]
    public async Task GrpcProtoContentType_IsAccepted()
    {
        var response = await RawGrpcClient.SendAsync(_client,
            RawGrpcClient.Request("ModelInfo", RawGrpcClient.Frame(new ModelInfoRequest()), contentType: "application/grpc+proto"));
        Assert.Equal(GrpcStatusCode.Ok, response.Status);
    }

    private Task<RawGrpcResponse> SendAsync(string method, Google.Protobuf.IMessage message) =>
        RawGrpcClient.SendAsync(_client, RawGrpcClient.Request(method, RawGrpcClient.Frame(message)));

    private static async Task<byte[]> ReadToEndAsync(Stream stream)
    {
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }
}
