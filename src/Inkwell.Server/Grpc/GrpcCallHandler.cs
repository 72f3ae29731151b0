using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Inkwell.Server.Grpc;

/// <summary>
/// What every call shares: protocol checks, deadline and cancellation, and turning the outcome into grpc-status
/// (trailers, or a trailers-only response when nothing was written).
/// </summary>
internal static class GrpcCallHandler
{
    // CancellationTokenSource timers accept at most uint.MaxValue - 1 ms; longer timeouts are as good as none.
    private static readonly TimeSpan LongestTimer = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    public static async Task HandleAsync(HttpContext http, Func<GrpcCallContext, Task> body)
    {
        if (!HttpProtocol.IsHttp2(http.Request.Protocol))
        {
            // gRPC needs HTTP/2 trailers; say so in the only place an HTTP/1.1 client can read it.
            http.Response.StatusCode = StatusCodes.Status426UpgradeRequired;
            http.Response.Headers.Upgrade = "h2";
            WriteStatusHeaders(http.Response, GrpcStatusCode.Internal, $"Request protocol '{http.Request.Protocol}' is not supported; gRPC needs HTTP/2.");
            return;
        }
        if (!GrpcProtocol.IsGrpcContentType(http.Request.ContentType))
        {
            http.Response.StatusCode = StatusCodes.Status415UnsupportedMediaType;
            WriteStatusHeaders(http.Response, GrpcStatusCode.Internal, $"Content-Type '{http.Request.ContentType}' is not supported.");
            return;
        }

        var services = http.RequestServices;
        var options = services.GetService<IOptions<GrpcServerOptions>>()?.Value ?? new GrpcServerOptions();
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var logger = services.GetService<ILoggerFactory>()?.CreateLogger(typeof(GrpcCallHandler).FullName!) ?? NullLogger.Instance;

        // Our own MaxReceiveMessageSize is the limit that speaks gRPC; Kestrel's body limit would only reset the stream.
        var bodySize = http.Features.Get<IHttpMaxRequestBodySizeFeature>();
        if (bodySize is { IsReadOnly: false }) bodySize.MaxRequestBodySize = null;

        http.Response.ContentType = GrpcProtocol.ContentType;

        TimeSpan? timeout = GrpcTimeout.TryParse(http.Request.Headers[GrpcProtocol.TimeoutHeader], out var parsed) && parsed < LongestTimer
            ? parsed
            : null;
        using var deadlineSource = timeout is { } t ? new CancellationTokenSource(t, time) : null;
        using var callSource = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, deadlineSource?.Token ?? CancellationToken.None);
        var call = new GrpcCallContext(http, options, callSource.Token, timeout is { } d ? time.GetUtcNow() + d : null);

        GrpcStatusCode status;
        string? message = null;
        try
        {
            await body(call);
            status = GrpcStatusCode.Ok;
        }
        catch (Exception) when (http.RequestAborted.IsCancellationRequested)
        {
            // The client is gone (cancelled or disconnected): there is no one to send a status to.
            return;
        }
        catch (OperationCanceledException) when (deadlineSource?.IsCancellationRequested == true)
        {
            (status, message) = (GrpcStatusCode.DeadlineExceeded, "Deadline Exceeded");
        }
        catch (GrpcStatusException e)
        {
            (status, message) = (e.StatusCode, e.Message);
            if (status == GrpcStatusCode.Unimplemented) http.Response.Headers[GrpcProtocol.AcceptEncodingHeader] = GrpcProtocol.IdentityEncoding;
        }
        catch (Exception e)
        {
            logger.LogError(e, "gRPC call {Path} failed", http.Request.Path);
            (status, message) = (GrpcStatusCode.Unknown, "Exception was thrown by handler: " + e.Message);
        }

        if (!call.ResponseStarted && !http.Response.HasStarted)
        {
            // Trailers-only: the status rides in the headers of a response without DATA frames.
            WriteStatusHeaders(http.Response, status, message);
            return;
        }
        http.Response.AppendTrailer(GrpcProtocol.StatusHeader, StatusText(status));
        if (!string.IsNullOrEmpty(message)) http.Response.AppendTrailer(GrpcProtocol.MessageHeader, GrpcMessageEncoding.PercentEncode(message));
    }

    private static void WriteStatusHeaders(HttpResponse response, GrpcStatusCode status, string? message)
    {
        response.ContentType = GrpcProtocol.ContentType;
        response.Headers[GrpcProtocol.StatusHeader] = StatusText(status);
        if (!string.IsNullOrEmpty(message)) response.Headers[GrpcProtocol.MessageHeader] = GrpcMessageEncoding.PercentEncode(message);
    }

    private static string StatusText(GrpcStatusCode status) => ((int)status).ToString(System.Globalization.CultureInfo.InvariantCulture);
}
