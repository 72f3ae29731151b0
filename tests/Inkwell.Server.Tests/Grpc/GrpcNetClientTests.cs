using System.Buffers.Binary;
using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;
using Grpc.Reflection.V1Alpha;
using Inkwell.Server.Grpc.Fmaas;

namespace Inkwell.Server.Tests.Grpc;

/// <summary>The service over a fake backend, called with Grpc.Net.Client (and once by hand, for a gzip-compressed request).</summary>
public sealed class GrpcNetClientTests : IAsyncLifetime
{
    private readonly FakeGenerationBackend _backend = new();
    private bool _healthy = true;
    private GrpcTestServer _server = null!;
    private GrpcChannel _channel = null!;
    private GenerationService.GenerationServiceClient _client = null!;

    public async Task InitializeAsync()
    {
        _server = await GrpcTestServer.StartAsync(_backend, configureGrpc: options => options.MaxReceiveMessageSize = 64 * 1024,
            isHealthy: () => _healthy);
        (_channel, _client) = _server.Connect();
    }

    public async Task DisposeAsync()
    {
        _channel.Dispose();
        await _server.DisposeAsync();
    }

    [Fact]
    public async Task ModelInfo()
    {
        var info = await _client.ModelInfoAsync(new ModelInfoRequest { ModelId = "m" });
        Assert.Equal((ModelInfoResponse.Types.ModelKind.DecoderOnly, 2048u, 1024u), (info.ModelKind, info.MaxSequenceLength, info.MaxNewTokens));
    }

    [Fact]
    public async Task Generate_AnswersEachInputInOrder()
    {
        var batch = await _client.GenerateAsync(new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = "a b" }, new GenerationRequest { Text = "c" } } });
        Assert.Equal(["echo: a b", "echo: c"], batch.Responses.Select(r => r.Text));
    }

    [Fact]
    public async Task InvalidParameters_AreInvalidArgument_BeforeTheBackend()
    {
        var request = new BatchedGenerationRequest
        {
            Requests = { new GenerationRequest { Text = "x" } },
            Params = new Parameters { Method = DecodingMethod.Sample, Sampling = new SamplingParameters { TopP = 2f } },
        };
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.GenerateAsync(request).ResponseAsync);

        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal("top_p must be > 0.0 and <= 1.0", error.Status.Detail);
        Assert.Empty(_backend.Received);
    }

    [Fact]
    public async Task BackendStatus_ReachesTheClient()
    {
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _client.GenerateAsync(new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = FakeGenerationBackend.Fail } } }).ResponseAsync);
        Assert.Equal((StatusCode.ResourceExhausted, "Model is overloaded"), (error.StatusCode, error.Status.Detail));
    }

    [Fact]
    public async Task Stream_SendsEachMessageAsItIsProduced()
    {
        using var call = _client.GenerateStream(new SingleGenerationRequest { Request = new GenerationRequest { Text = "gated two three" } });
        var stream = call.ResponseStream;

        // The backend holds after the first word until the gate opens, so these can only arrive if sent at once.
        Assert.True(await stream.MoveNext());
        Assert.Equal(3u, stream.Current.InputTokenCount);
        Assert.True(await stream.MoveNext());
        Assert.Equal("gated ", stream.Current.Text);
        _backend.StreamGate.SetResult();

        var rest = await stream.ReadAllAsync().ToListAsync();
        Assert.Equal(["two ", "three"], rest.Select(r => r.Text));
        Assert.Equal(StopReason.EosToken, rest[^1].StopReason);
        Assert.Equal(StatusCode.OK, call.GetStatus().StatusCode);
    }

    [Fact]
    public async Task Deadline_CancelsTheBackendAndEndsWithDeadlineExceeded()
    {
        var request = new BatchedGenerationRequest { Requests = { new GenerationRequest { Text = FakeGenerationBackend.WaitForCancel } } };
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.GenerateAsync(request, deadline: DateTime.UtcNow.AddMilliseconds(200)).ResponseAsync);

        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
        await _backend.CancellationObserved.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task Deadline_DuringStream_EndsWithDeadlineExceeded()
    {
        using var call = _client.GenerateStream(new SingleGenerationRequest { Request = new GenerationRequest { Text = FakeGenerationBackend.WaitForCancel } },
            deadline: DateTime.UtcNow.AddMilliseconds(300));

        Assert.True(await call.ResponseStream.MoveNext());
        var error = await Assert.ThrowsAsync<RpcException>(() => call.ResponseStream.MoveNext());
        Assert.Equal(StatusCode.DeadlineExceeded, error.StatusCode);
    }

    [Fact]
    public async Task ClientCancellation_CancelsTheBackendToken()
    {
        using (var call = _client.GenerateStream(new SingleGenerationRequest { Request = new GenerationRequest { Text = FakeGenerationBackend.WaitForCancel } }))
        {
            Assert.True(await call.ResponseStream.MoveNext());
        } // disposing mid-stream cancels the call (RST_STREAM)

        await _backend.CancellationObserved.Task.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task GzipCompressedRequest_FromGrpcNetClient()
    {
        // Grpc.Net.Client compresses the request message when this header names a provider (gzip is built in).
        var headers = new Metadata { { "grpc-internal-encoding-request", "gzip" } };
        var response = await _client.TokenizeAsync(new BatchedTokenizeRequest { Requests = { new TokenizeRequest { Text = "a bc def" } }, ReturnTokens = true }, headers);
        Assert.Equal(["a", "bc", "def"], Assert.Single(response.Responses).Tokens);
    }

    [Fact]
    public async Task GzipCompressedRequest_ByHand_IsDecompressed()
    {
        // Built here from the spec (grpc/doc/compression.md): flag 1, gzip payload, grpc-encoding: gzip.
        var payload = new MemoryStream();
        using (var gzip = new GZipStream(payload, CompressionLevel.Optimal, leaveOpen: true))
        {
            new BatchedTokenizeRequest { Requests = { new TokenizeRequest { Text = "one two" } } }.WriteTo(gzip);
        }
        var frame = new byte[5 + payload.Length];
        frame[0] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)payload.Length);
        payload.ToArray().CopyTo(frame, 5);

        using var http = new HttpClient { BaseAddress = _server.BaseAddress };
        var request = new HttpRequestMessage(HttpMethod.Post, "/fmaas.GenerationService/Tokenize")
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(frame),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("grpc-encoding", "gzip");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        using var response = await http.SendAsync(request);
        var body = await response.Content.ReadAsByteArrayAsync();

        Assert.Equal("0", Assert.Single(response.TrailingHeaders.GetValues("grpc-status")));
        Assert.Equal(0, body[0]); // the answer is not compressed: the server was not asked to
        var answer = BatchedTokenizeResponse.Parser.ParseFrom(body.AsSpan(5, BinaryPrimitives.ReadInt32BigEndian(body.AsSpan(1))));
        Assert.Equal(2u, Assert.Single(answer.Responses).TokenCount);
    }

    [Fact]
    public async Task OversizeMessage_IsResourceExhausted()
    {
        var request = new BatchedTokenizeRequest { Requests = { new TokenizeRequest { Text = new string('x', 70 * 1024) } } };
        var error = await Assert.ThrowsAsync<RpcException>(() => _client.TokenizeAsync(request).ResponseAsync);
        Assert.Equal(StatusCode.ResourceExhausted, error.StatusCode);
    }

    [Fact]
    public async Task UnknownMethod_IsUnimplemented()
    {
        var embed = new Method<ModelInfoRequest, ModelInfoResponse>(MethodType.Unary, "fmaas.GenerationService", "Embed",
            Marshallers.Create(r => r.ToByteArray(), ModelInfoRequest.Parser.ParseFrom), Marshallers.Create(r => r.ToByteArray(), ModelInfoResponse.Parser.ParseFrom));
        var error = await Assert.ThrowsAsync<RpcException>(() =>
            _channel.CreateCallInvoker().AsyncUnaryCall(embed, null, new CallOptions(), new ModelInfoRequest()).ResponseAsync);
        Assert.Equal(StatusCode.Unimplemented, error.StatusCode);
    }

    [Fact]
    public async Task HealthCheck_FollowsTheServersHealth()
    {
        var health = new Health.HealthClient(_channel);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, (await health.CheckAsync(new HealthCheckRequest())).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving,
            (await health.CheckAsync(new HealthCheckRequest { Service = "fmaas.GenerationService" })).Status);

        _healthy = false;
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.NotServing, (await health.CheckAsync(new HealthCheckRequest())).Status);
        var unknown = await Assert.ThrowsAsync<RpcException>(() => health.CheckAsync(new HealthCheckRequest { Service = "no.Such" }).ResponseAsync);
        Assert.Equal(StatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Reflection_ListsTheServices()
    {
        using var call = new ServerReflection.ServerReflectionClient(_channel).ServerReflectionInfo();
        await call.RequestStream.WriteAsync(new ServerReflectionRequest { ListServices = "" });
        await call.RequestStream.CompleteAsync();
        Assert.True(await call.ResponseStream.MoveNext());

        var services = call.ResponseStream.Current.ListServicesResponse.Service.Select(s => s.Name).ToList();
        Assert.Contains("fmaas.GenerationService", services);
        Assert.Contains("grpc.health.v1.Health", services);
    }
}
