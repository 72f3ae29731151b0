using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;
using OpenTelemetry.Exporter;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Inkwell.Server.Telemetry;

/// <summary>
/// TGI's --otlp-endpoint and --json-output. Traces: ASP.NET Core's server span for each HTTP or gRPC call (a
/// W3C traceparent from the client is honoured), under it "generate" with "validate" and, per sequence, "queue",
/// "prefill" and "decode" (see <see cref="RequestTelemetry"/>), exported over OTLP. Logs: one JSON object per line,
/// carrying the trace and span ids of the request that wrote it. ASP.NET Core's and HttpClient's activity sources are
/// process-wide: one tracer per process (the single server's, or the gateway's for itself and its in-process
/// deployments) sees every host in it, and a second one would export each span again.
/// </summary>
public static class Tracing
{
    public const string SourceName = "Inkwell.Server";

    /// <summary>Inkwell's spans; StartActivity returns null (no cost) while no tracer listens.</summary>
    public static readonly ActivitySource Source = new(SourceName, typeof(Tracing).Assembly.GetName().Version?.ToString(3));

    /// <summary>The sources of outgoing calls: HttpClient's request (.NET 9 and later) and Grpc.Net.Client's call, which
    /// wraps an HttpClient request (untraced, it would still be the parent, leaving that request's span an orphan).</summary>
    private static readonly string[] OutgoingCallSources = ["System.Net.Http", "Grpc.Net.Client"];
    private static readonly string[] OutgoingCallActivities = ["System.Net.Http.HttpRequestOut", "Grpc.Net.Client.GrpcOut"];

    /// <param name="endpoint">The collector: gRPC (TGI's protocol, e.g. http://localhost:4317), or OTLP/HTTP protobuf with <paramref name="protocol"/> "http/protobuf" (the URL of its /v1/traces).</param>
    /// <param name="outgoingCalls">Also trace the HTTP (and gRPC) calls this process makes on behalf of a request, as
    /// client spans whose traceparent the callee continues: the gateway's calls to its replicas and local deployments.</param>
    public static void AddOtlpTracing(this WebApplicationBuilder builder, string endpoint, string serviceName, string protocol = "grpc", bool outgoingCalls = false)
    {
        if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new ArgumentException($"--otlp-endpoint {endpoint}: expected an http:// or https:// URL, e.g. http://localhost:4317");
        var exportProtocol = protocol switch
        {
            "grpc" => OtlpExportProtocol.Grpc,
            "http/protobuf" => OtlpExportProtocol.HttpProtobuf,
            _ => throw new ArgumentException($"--otlp-protocol {protocol}: expected grpc or http/protobuf"),
        };
        builder.Services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService(serviceName))
            .WithTracing(tracing =>
            {
                tracing.AddAspNetCoreInstrumentation().AddSource(SourceName);
                if (outgoingCalls) tracing.AddSource(OutgoingCallSources).SetSampler(new CallsWithinRequestsSampler());
                tracing.AddOtlpExporter(otlp =>
                {
                    otlp.Endpoint = uri;
                    otlp.Protocol = exportProtocol;
                });
            });
    }

    /// <summary>The default sampler (follow the parent, sample roots), except that an outgoing call with no request
    /// around it is not traced: the replica probes, every few seconds, would each be a trace of their own.</summary>
    private sealed class CallsWithinRequestsSampler : Sampler
    {
        private static readonly SamplingResult Drop = new(SamplingDecision.Drop);
        private readonly ParentBasedSampler _default = new(new AlwaysOnSampler());

        public override SamplingResult ShouldSample(in SamplingParameters parameters) =>
            parameters.ParentContext.TraceId == default && OutgoingCallActivities.Contains(parameters.Name)
                ? Drop
                : _default.ShouldSample(parameters);
    }

    /// <summary>--json-output: the console writes one JSON object per log line, with the request's trace and span ids.</summary>
    public static void UseJsonLogs(this WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.Configure(options => options.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        builder.Logging.AddJsonConsole(json =>
        {
            json.IncludeScopes = true;
            json.UseUtcTimestamp = true;
            json.TimestampFormat = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";
        });
        builder.Services.Configure<ConsoleLoggerOptions>(console => console.FormatterName = ConsoleFormatterNames.Json);
    }
}
