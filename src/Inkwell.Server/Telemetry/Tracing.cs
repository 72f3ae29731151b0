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
/// carrying the trace and span ids of the request that wrote it.
/// </summary>
public static class Tracing
{
    public const string SourceName = "Inkwell.Server";

    /// <summary>Inkwell's spans; StartActivity returns null (no cost) while no tracer listens.</summary>
    public static readonly ActivitySource Source = new(SourceName, typeof(Tracing).Assembly.GetName().Version?.ToString(3));

    /// <param name="endpoint">The collector: gRPC (TGI's protocol, e.g. http://localhost:4317), or OTLP/HTTP protobuf with <paramref name="protocol"/> "http/protobuf" (the URL of its /v1/traces).</param>
    public static void AddOtlpTracing(this WebApplicationBuilder builder, string endpoint, string serviceName, string protocol = "grpc")
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
            .WithTracing(tracing => tracing
                .AddAspNetCoreInstrumentation()
                .AddSource(SourceName)
                .AddOtlpExporter(otlp =>
                {
                    otlp.Endpoint = uri;
                    otlp.Protocol = exportProtocol;
                }));
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
