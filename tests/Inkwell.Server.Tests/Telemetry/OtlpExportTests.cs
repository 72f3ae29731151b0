using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Telemetry.Otlp;
using Inkwell.Server.Tests.Tgi;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;
using OpenTelemetry.Trace;

namespace Inkwell.Server.Tests.Telemetry;

/// <summary>A loopback OTLP collector: OTLP's gRPC TraceService/Export, keeping every span it is sent.</summary>
internal sealed class TraceCollector : TraceService.TraceServiceBase
{
    public ConcurrentQueue<(Resource? Resource, Span Span)> Spans { get; } = new();

    public override Task<ExportTraceServiceResponse> Export(ExportTraceServiceRequest request, ServerCallContext context)
    {
        foreach (var resourceSpans in request.ResourceSpans)
            foreach (var scope in resourceSpans.ScopeSpans)
                foreach (var span in scope.Spans)
                    Spans.Enqueue((resourceSpans.Resource, span));
        return Task.FromResult(new ExportTraceServiceResponse());
    }

    /// <summary>Listens for OTLP/gRPC exports on a free loopback port (HTTP/2 cleartext, as the exporter speaks it).</summary>
    public async Task<LoopbackHost> StartAsync() => await LoopbackHost.StartAsync(port =>
    {
        var builder = LoopbackHost.CreateBuilder();
        builder.Services.AddGrpc();
        builder.Services.AddSingleton(this);
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, port, listen => listen.Protocols = HttpProtocols.Http2));
        var app = builder.Build();
        app.MapGrpcService<TraceCollector>();
        return app;
    });

    /// <summary>The spans of one trace received so far.</summary>
    public List<Span> SpansOf(ReadOnlySpan<byte> traceId)
    {
        List<Span> spans = [];
        foreach (var (_, span) in Spans)
            if (span.TraceId.Span.SequenceEqual(traceId)) spans.Add(span);
        return spans;
    }
}

/// <summary>
/// --otlp-endpoint: a real server exports over OTLP/gRPC (the OpenTelemetry exporter, as TGI's router does) to a
/// collector in the test; each request is one trace continuing the caller's traceparent, with the spans linked
/// server -> generate -> validate, queue, prefill, decode, and timed in that order.
/// </summary>
public sealed class OtlpExportTests : IAsyncLifetime
{
    private readonly TraceCollector _collector = new();
    private LoopbackHost _collectorHost = null!;
    private TestServer _server = null!;

    public async Task InitializeAsync()
    {
        _collectorHost = await _collector.StartAsync();
        _server = await TestServer.StartAsync(new ServerOptions
        {
            GrpcPort = 0,
            OtlpEndpoint = $"http://127.0.0.1:{_collectorHost.Port}",
            OtlpServiceName = "inkwell-under-test",
        });
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        await _collectorHost.DisposeAsync();
    }

    /// <summary>A W3C traceparent of fresh ids, as a traced client sends it.</summary>
    private static (string Header, byte[] TraceId, byte[] ParentId) TraceParent()
    {
        var trace = new byte[16];
        var parent = new byte[8];
        Random.Shared.NextBytes(trace);
        Random.Shared.NextBytes(parent);
        return ($"00-{Convert.ToHexStringLower(trace)}-{Convert.ToHexStringLower(parent)}-01", trace, parent);
    }

    /// <summary>
    /// The spans of one trace (other tests' servers share the process's listeners) once its server span is in: that
    /// one ends after the client has its answer, so flush until it arrives.
    /// </summary>
    private async Task<List<Span>> SpansOfAsync(byte[] traceId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (true)
        {
            Assert.True(_server.App.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000));
            var spans = _collector.SpansOf(traceId);
            if (spans.Any(s => s.Kind == Span.Types.SpanKind.Server) || DateTime.UtcNow > deadline) return spans;
            await Task.Delay(50);
        }
    }

    private static Span Child(List<Span> spans, Span parent, string name) =>
        Assert.Single(spans, s => s.Name == name && s.ParentSpanId == parent.SpanId);

    private static AnyValue Attribute(Span span, string key) => span.Attributes.Single(a => a.Key == key).Value;

    [Fact]
    public async Task TgiRequest_IsOneTrace_ServerGenerateAndItsStages()
    {
        var (traceparent, traceId, callerSpan) = TraceParent();
        var request = new HttpRequestMessage(HttpMethod.Post, "/generate")
        {
            Content = JsonContent.Create(new { inputs = "Once upon a time", parameters = new { max_new_tokens = 6, details = true } }),
        };
        request.Headers.Add("traceparent", traceparent);
        using var response = await _server.Client.SendAsync(request);
        response.EnsureSuccessStatusCode();
        var details = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.GetProperty("details");

        var spans = await SpansOfAsync(traceId);
        var server = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Server);
        Assert.Equal(callerSpan, server.ParentSpanId.ToByteArray());
        var generate = Child(spans, server, "generate");
        Assert.Equal("tgi", Attribute(generate, "inkwell.api").StringValue);
        Assert.Equal("single", Attribute(generate, "inkwell.kind").StringValue);
        var validate = Child(spans, generate, "validate");
        var queue = Child(spans, generate, "queue");
        var prefill = Child(spans, generate, "prefill");
        var decode = Child(spans, generate, "decode");

        int promptTokens = _server.State.Tokenizer.EncodeToIds("Once upon a time").Count;
        Assert.Equal(promptTokens, Attribute(prefill, "gen_ai.usage.input_tokens").IntValue);
        Assert.Equal(details.GetProperty("generated_tokens").GetInt32(), Attribute(decode, "gen_ai.usage.output_tokens").IntValue);
        Assert.Equal("max_tokens", Attribute(decode, "gen_ai.response.finish_reasons").ArrayValue.Values.Single().StringValue);

        // One timeline: the request contains its stages, which follow each other.
        Assert.True(server.StartTimeUnixNano <= generate.StartTimeUnixNano && generate.EndTimeUnixNano <= server.EndTimeUnixNano);
        Assert.True(validate.StartTimeUnixNano >= generate.StartTimeUnixNano && validate.EndTimeUnixNano <= queue.StartTimeUnixNano + 1_000_000);
        Assert.Equal(queue.EndTimeUnixNano, prefill.StartTimeUnixNano);
        Assert.Equal(prefill.EndTimeUnixNano, decode.StartTimeUnixNano);
        Assert.True(decode.EndTimeUnixNano <= generate.EndTimeUnixNano);

        var resource = _collector.Spans.First(s => s.Span.SpanId == server.SpanId).Resource!;
        Assert.Equal("inkwell-under-test", resource.Attributes.Single(a => a.Key == "service.name").Value.StringValue);
    }

    [Fact]
    public async Task GrpcBatch_HasTheStagesOfEachSequence()
    {
        var (traceparent, traceId, callerSpan) = TraceParent();
        using var channel = GrpcChannel.ForAddress($"http://{_server.GrpcTarget}");
        var client = new GenerationService.GenerationServiceClient(channel);
        await client.GenerateAsync(new BatchedGenerationRequest
        {
            Requests = { new GenerationRequest { Text = "Once upon a time" }, new GenerationRequest { Text = "The dog" } },
            Params = new Parameters { Stopping = new StoppingCriteria { MaxNewTokens = 3 } },
        }, new Metadata { { "traceparent", traceparent } });

        var spans = await SpansOfAsync(traceId);
        var server = Assert.Single(spans, s => s.Kind == Span.Types.SpanKind.Server);
        Assert.Equal(callerSpan, server.ParentSpanId.ToByteArray());
        var generate = Child(spans, server, "generate");
        Assert.Equal("tgis", Attribute(generate, "inkwell.api").StringValue);
        Assert.Equal("batch", Attribute(generate, "inkwell.kind").StringValue);
        foreach (var stage in new[] { "queue", "prefill", "decode" })
        {
            var perSequence = spans.Where(s => s.Name == stage && s.ParentSpanId == generate.SpanId).ToList();
            Assert.Equal([0L, 1L], perSequence.Select(s => Attribute(s, "inkwell.sequence").IntValue).Order());
        }
    }

    [Fact]
    public async Task HttpProtobuf_PostsTheSameSpansToTheTracesUrl()
    {
        var received = new ConcurrentQueue<Span>();
        await using var collector = await LoopbackHost.StartAsync(app => app.MapPost("/v1/traces", async (Microsoft.AspNetCore.Http.HttpRequest request) =>
        {
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body);
            var export = ExportTraceServiceRequest.Parser.ParseFrom(body.ToArray());
            foreach (var span in export.ResourceSpans.SelectMany(r => r.ScopeSpans).SelectMany(s => s.Spans)) received.Enqueue(span);
            return Microsoft.AspNetCore.Http.Results.Bytes(new ExportTraceServiceResponse().ToByteArray(), "application/x-protobuf");
        }));
        await using var server = await TestServer.StartAsync(new ServerOptions
        {
            OtlpEndpoint = $"http://127.0.0.1:{collector.Port}/v1/traces",
            OtlpProtocol = "http/protobuf",
        });
        var (traceparent, traceId, _) = TraceParent();
        var request = new HttpRequestMessage(HttpMethod.Post, "/generate") { Content = JsonContent.Create(new { inputs = "Once upon a time", parameters = new { max_new_tokens = 2 } }) };
        request.Headers.Add("traceparent", traceparent);
        (await server.Client.SendAsync(request)).EnsureSuccessStatusCode();

        Assert.True(server.App.Services.GetRequiredService<TracerProvider>().ForceFlush(10_000));
        var names = received.Where(s => s.TraceId.Span.SequenceEqual(traceId)).Select(s => s.Name).ToHashSet();
        Assert.Superset(new HashSet<string> { "generate", "validate", "queue", "prefill", "decode" }, names);
    }

    [Fact]
    public async Task AnUnknownProtocol_FailsTheStart()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => TestServer.StartAsync(new ServerOptions { OtlpEndpoint = "http://127.0.0.1:4317", OtlpProtocol = "http/json" }));
        Assert.Contains("--otlp-protocol", e.Message);
    }

    [Fact]
    public async Task AnOtlpEndpointThatIsNotAUrl_FailsTheStart()
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => TestServer.StartAsync(new ServerOptions { OtlpEndpoint = "localhost:4317" }));
        Assert.Contains("--otlp-endpoint", e.Message);
    }

    [Fact]
    public async Task JsonOutput_SelectsTheJsonConsoleFormatter()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { JsonOutput = true });
        Assert.Equal(ConsoleFormatterNames.Json, server.App.Services.GetRequiredService<IOptions<ConsoleLoggerOptions>>().Value.FormatterName);
        var tracking = server.App.Services.GetRequiredService<IOptions<LoggerFactoryOptions>>().Value.ActivityTrackingOptions;
        Assert.True(tracking.HasFlag(ActivityTrackingOptions.TraceId) && tracking.HasFlag(ActivityTrackingOptions.SpanId));
    }
}
