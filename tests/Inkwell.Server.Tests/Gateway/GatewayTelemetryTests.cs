using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Inkwell.Server.Gateway;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Telemetry;
using Inkwell.Server.Tests.Telemetry.Otlp;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Trace;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>Records the traceparent header of every /generate request a server receives, before its routes run.</summary>
internal sealed class TraceParentRecorder(ConcurrentQueue<string> received) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        app.Use(async (ctx, following) =>
        {
            if (ctx.Request.Path == "/generate") received.Enqueue(ctx.Request.Headers["traceparent"].ToString());
            await following(ctx);
        });
        next(app);
    };
}

/// <summary>
/// `inkwell serve --registry ... --otlp-endpoint ... --json-output`: the gateway in front of a local deployment and a
/// remote Inkwell replica (a second real server, without telemetry of its own) over HTTP and over TGIS gRPC, exporting over OTLP/gRPC to a
/// loopback collector, its log lines captured as its console would print them.
/// </summary>
public sealed class GatewayTelemetryFixture : IAsyncLifetime
{
    internal TraceCollector Collector { get; } = new();
    public ConcurrentQueue<string> RemoteTraceParents { get; } = new();
    public ConsoleLineCapture Logs { get; private set; } = null!;
    public GatewayHarness Gateway { get; private set; } = null!;
    private LoopbackHost _collectorHost = null!;
    private TestServer _remote = null!;

    public async Task InitializeAsync()
    {
        _collectorHost = await Collector.StartAsync();
        _remote = await TestServer.StartAsync(new ServerOptions { ModelId = "remote-inkwell", MaxBatchTotalTokens = 2048, GrpcPort = 0 },
            configure: builder => builder.Services.AddSingleton<IStartupFilter>(new TraceParentRecorder(RemoteTraceParents)));
        var deployments = $"""
            {LocalDeployment}
              - name: remote/stories
                model_name: remote/stories
                client_spec: {"{"}kind: tgi, url: "{_remote.Client.BaseAddress}"{"}"}
              - name: grpc/stories
                model_name: grpc/stories
                client_spec: {"{"}kind: tgis, url: "grpc://127.0.0.1:{_remote.GrpcPort}"{"}"}
            """;
        Gateway = await GatewayHarness.StartAsync(Metadata, deployments,
            localDefaults: defaults => defaults with { OtlpEndpoint = Endpoint, OtlpServiceName = "gateway-under-test", JsonOutput = true },
            configure: builder => ConsoleLineCapture.AddTo(builder.Services, capture => Logs = capture));
    }

    private string Endpoint => $"http://127.0.0.1:{_collectorHost.Port}";

    public static string LocalDeployment => $"""
        model_deployments:
          - name: local/stories
            model_name: local/stories
            client_spec: {"{"}kind: local, model_path: "{GatewayHarness.EmbeddedModel}"{"}"}
        """;

    public const string Metadata = """
        models:
          - name: local/stories
          - name: remote/stories
          - name: grpc/stories
        """;

    /// <summary>The spans of one trace, once <paramref name="complete"/> holds for them (the server spans end after the
    /// caller has its answer, so flush until they are in).</summary>
    public async Task<List<Span>> SpansOfAsync(byte[] traceId, Func<List<Span>, bool> complete)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            Assert.True(Gateway.App.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000));
            var spans = Collector.SpansOf(traceId);
            if (complete(spans) || DateTime.UtcNow > deadline) return spans;
            await Task.Delay(50);
        }
    }

    public async Task DisposeAsync()
    {
        await Gateway.DisposeAsync();
        await _remote.DisposeAsync();
        await _collectorHost.DisposeAsync();
    }
}

/// <summary>
/// The gateway's own traces and logs: a request is the gateway's server span (continuing the caller's traceparent)
/// with a client span for the call downstream (HTTP, or gRPC for a TGIS relay), whose traceparent the replica continues;
/// replica probes are not traced; the gateway's start-up and request log lines are JSON, the request's with its trace id.
/// Every test here fails on the gateway before this change (no tracer of its own, text logs, the endpoint unchecked).
/// </summary>
public sealed class GatewayTelemetryTests(GatewayTelemetryFixture fixture) : IClassFixture<GatewayTelemetryFixture>
{
    private Task<(byte[] TraceId, byte[] CallerSpan)> GenerateAsync(string model) => GatewayTraces.GenerateAsync(fixture.Gateway.Client, model);

    private static string Hex(Google.Protobuf.ByteString id) => Convert.ToHexStringLower(id.Span);

    private static AnyValue Attribute(Span span, string key) => span.Attributes.Single(a => a.Key == key).Value;

    [Fact]
    public async Task RemoteRequest_GatewaySpanWithClientChild_WhoseTraceparentTheReplicaContinues()
    {
        var (traceId, callerSpan) = await GenerateAsync("remote/stories");
        // gateway server span, its client span, and the remote's own server span (the tracer sees this process's hosts)
        var spans = await fixture.SpansOfAsync(traceId, s => s.Count(x => x.Kind == Span.Types.SpanKind.Server) == 2);

        var gateway = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Server && s.ParentSpanId.Span.SequenceEqual(callerSpan));
        Assert.Equal("/models/remote/stories/generate", Attribute(gateway, "url.path").StringValue);
        Assert.Equal("remote/stories", Attribute(gateway, GatewayEndpoints.DeploymentTag).StringValue);
        var call = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Client && s.ParentSpanId == gateway.SpanId);
        Assert.EndsWith("/generate", Attribute(call, "url.full").StringValue);
        Assert.True(gateway.StartTimeUnixNano <= call.StartTimeUnixNano && call.EndTimeUnixNano <= gateway.EndTimeUnixNano);

        // W3C: version-trace-parent-flags, the parent being the gateway's client span.
        Assert.Contains($"00-{Convert.ToHexStringLower(traceId)}-{Hex(call.SpanId)}-01", fixture.RemoteTraceParents);
        var remote = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Server && s.ParentSpanId == call.SpanId);
        Assert.Single(spans, s => s.Name == "generate" && s.ParentSpanId == remote.SpanId);
    }

    [Fact]
    public async Task TgisRelay_CallIsAGrpcClientSpan_WhoseRequestTheGrpcReplicaContinues()
    {
        var (traceId, callerSpan) = await GenerateAsync("grpc/stories");
        var spans = await fixture.SpansOfAsync(traceId, s => s.Count(x => x.Kind == Span.Types.SpanKind.Server) == 2);

        var gateway = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Server && s.ParentSpanId.Span.SequenceEqual(callerSpan));
        // Grpc.Net.Client's call, and under it the HTTP/2 request that carries it.
        var grpcCall = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Client && s.ParentSpanId == gateway.SpanId);
        Assert.Equal("/fmaas.GenerationService/Generate", Attribute(grpcCall, "grpc.method").StringValue);
        var request = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Client && s.ParentSpanId == grpcCall.SpanId);
        Assert.EndsWith("/fmaas.GenerationService/Generate", Attribute(request, "url.full").StringValue);
        var remote = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Server && s.ParentSpanId == request.SpanId);
        Assert.Equal("/fmaas.GenerationService/Generate", Attribute(remote, "url.path").StringValue);
    }

    [Fact]
    public async Task ReplicaProbes_AreNotTraced()
    {
        // The probes run every 200 ms (GatewayHarness.FastReplicas) to the HTTP and the gRPC replica; outside any
        // request, a traced one would be a client span without a parent.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.True(fixture.Gateway.App.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000));
        Assert.DoesNotContain(fixture.Collector.Spans, s => s.Span.Kind == Span.Types.SpanKind.Client && s.Span.ParentSpanId.IsEmpty);
        Assert.NotEmpty(fixture.Gateway.State.Router.ReplicaSets); // there is something to probe
    }

    [Fact]
    public async Task StartupAndRequestLogLines_AreJsonObjects_TheRequestsCarryingItsTraceId()
    {
        var (traceId, _) = await GenerateAsync("remote/stories");
        string traceHex = Convert.ToHexStringLower(traceId);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        List<JsonElement> lines;
        while (true)
        {
            // Every line the gateway's console would print is one JSON object on one line.
            lines = [.. fixture.Logs.Lines.Select(line =>
            {
                Assert.Single(line.Split('\n', StringSplitOptions.RemoveEmptyEntries));
                return JsonDocument.Parse(line).RootElement;
            })];
            if (lines.Any(l => TraceIdOf(l) == traceHex) || DateTime.UtcNow > deadline) break;
            await Task.Delay(50);
        }

        var startup = Assert.Single(lines, l => l.GetProperty("Message").GetString()!.StartsWith("Gateway over 3 models, 3 deployments", StringComparison.Ordinal));
        Assert.Equal("Information", startup.GetProperty("LogLevel").GetString());
        var request = Assert.Single(lines, l => TraceIdOf(l) == traceHex && l.GetProperty("Category").GetString() == "Inkwell.Gateway");
        Assert.Equal("remote/stories", request.GetProperty("State").GetProperty("Deployment").GetString());
        Assert.Equal(200, request.GetProperty("State").GetProperty("Status").GetInt32());
    }

    [Fact]
    public async Task AnOtlpEndpointThatIsNotAUrl_FailsTheGatewaysStart()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => GatewayHarness.StartAsync(GatewayTelemetryFixture.Metadata, GatewayTelemetryFixture.LocalDeployment,
            localDefaults: defaults => defaults with { OtlpEndpoint = "localhost:4317" }));
        Assert.Contains("--otlp-endpoint", e.Message);
    }

    /// <summary>The TraceId of the request scope ASP.NET Core and ActivityTrackingOptions put on a log line, if any.</summary>
    private static string? TraceIdOf(JsonElement line) =>
        line.TryGetProperty("Scopes", out var scopes)
            ? scopes.EnumerateArray().Where(s => s.ValueKind == JsonValueKind.Object && s.TryGetProperty("TraceId", out _))
                .Select(s => s.GetProperty("TraceId").GetString()).FirstOrDefault()
            : null;
}

/// <summary>A traced caller of the gateway: a TGI generate request carrying a W3C traceparent of fresh ids.</summary>
internal static class GatewayTraces
{
    public static async Task<(byte[] TraceId, byte[] CallerSpan)> GenerateAsync(HttpClient gateway, string model)
    {
        var traceId = new byte[16];
        var callerSpan = new byte[8];
        Random.Shared.NextBytes(traceId);
        Random.Shared.NextBytes(callerSpan);
        var request = new HttpRequestMessage(HttpMethod.Post, $"/models/{model}/generate")
        {
            Content = JsonContent.Create(new { inputs = "Once upon a time", parameters = new { max_new_tokens = 3 } }),
        };
        request.Headers.Add("traceparent", $"00-{Convert.ToHexStringLower(traceId)}-{Convert.ToHexStringLower(callerSpan)}-01");
        using var response = await gateway.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (traceId, callerSpan);
    }
}

/// <summary>
/// A local deployment under a traced gateway is exported once: by the process's one tracer, not again by a tracer of
/// its own. Its own gateway and collector, stopped before counting, so every tracer in it has flushed whatever it had.
/// </summary>
public sealed class GatewayLocalTraceTests
{
    [Fact]
    public async Task LocalRequest_IsExportedOnce_UnderTheGatewaysCall()
    {
        var collector = new TraceCollector();
        await using var collectorHost = await collector.StartAsync();
        byte[] traceId, callerSpan;
        await using (var gateway = await GatewayHarness.StartAsync(GatewayTelemetryFixture.Metadata, GatewayTelemetryFixture.LocalDeployment,
            localDefaults: defaults => defaults with { OtlpEndpoint = $"http://127.0.0.1:{collectorHost.Port}", OtlpServiceName = "gateway-under-test" }))
            (traceId, callerSpan) = await GatewayTraces.GenerateAsync(gateway.Client, "local/stories");
        var spans = collector.SpansOf(traceId);

        Assert.All(spans.GroupBy(s => Convert.ToHexStringLower(s.SpanId.Span)), group => Assert.Single(group));
        var gatewaySpan = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Server && s.ParentSpanId.Span.SequenceEqual(callerSpan));
        var call = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Client && s.ParentSpanId == gatewaySpan.SpanId);
        var local = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Server && s.ParentSpanId == call.SpanId);
        var generate = Assert.Single(spans, s => s.Name == "generate");
        Assert.Equal(local.SpanId, generate.ParentSpanId);
        foreach (var stage in new[] { "validate", "queue", "prefill", "decode" })
            Assert.Single(spans, s => s.Name == stage && s.ParentSpanId == generate.SpanId);
        Assert.Equal(2, spans.Count(s => s.Kind == Span.Types.SpanKind.Server));

        var resource = collector.Spans.First(s => s.Span.SpanId == local.SpanId).Resource!;
        Assert.Equal("gateway-under-test", resource.Attributes.Single(a => a.Key == "service.name").Value.StringValue);
    }
}
