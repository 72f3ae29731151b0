using Inkwell.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inkwell.Server.Http;

/// <summary>
/// Limits of the HTTP APIs (TGI, OpenAI), enforced by the app so the refusal carries the API's error body: the body
/// size (TGI's --payload-limit; gRPC keeps Kestrel's and its own message limits) and the request headers. Kestrel's
/// header limits are set <see cref="KestrelHeadroom"/> times higher: it still drops absurd header blocks itself (a
/// bare 431, before any route is known), while ordinary oversize requests reach this check.
/// </summary>
public sealed record RequestLimits(long PayloadBytes, int MaxHeaderBytes = 32 * 1024, int MaxHeaderCount = 100)
{
    public const int KestrelHeadroom = 8;

    public void ApplyTo(KestrelServerLimits kestrel)
    {
        kestrel.MaxRequestHeadersTotalSize = MaxHeaderBytes * KestrelHeadroom;
        kestrel.MaxRequestHeaderCount = MaxHeaderCount * KestrelHeadroom;
    }

    /// <summary>Null when within the limits, else what is over (names and values counted as Kestrel counts them).</summary>
    public string? CheckHeaders(IHeaderDictionary headers)
    {
        if (headers.Count > MaxHeaderCount) return $"Request header fields too large: {headers.Count} headers, the limit is {MaxHeaderCount}";
        long bytes = 0;
        foreach (var (name, values) in headers)
        {
            bytes += name.Length;
            foreach (var value in values) bytes += value?.Length ?? 0;
        }
        return bytes > MaxHeaderBytes ? $"Request header fields too large: {bytes} bytes, the limit is {MaxHeaderBytes}" : null;
    }
}

/// <summary>
/// The outermost middleware: every error status gets a body in its API's shape (<see cref="ApiErrors"/>). It
/// covers what routes never see: header limits (431), body limits met while reading (413, 408), statuses
/// the framework sets bare (404, 405), and unhandled exceptions (500 with error_type and no stack trace; inside an
/// event stream, a final error event instead of a cut connection). gRPC keeps its own statuses.
/// </summary>
public static class ErrorShaping
{
    public static void UseErrorShaping(this WebApplication app, RequestLimits limits)
    {
        var logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Inkwell.Server.Errors");
        app.Use(async (http, next) =>
        {
            var surface = ApiSurfaces.Of(http);
            if (surface == ApiSurface.Grpc)
            {
                await next(http);
                return;
            }
            if (limits.CheckHeaders(http.Request.Headers) is { } tooLarge)
            {
                await ApiErrors.WriteAsync(http, surface, StatusCodes.Status431RequestHeaderFieldsTooLarge, tooLarge);
                return;
            }
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize) bodySize.MaxRequestBodySize = limits.PayloadBytes;
            try
            {
                await next(http);
            }
            catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
            {
                return; // the client left; nobody reads an answer
            }
            catch (Microsoft.AspNetCore.Http.BadHttpRequestException e) when (!http.Response.HasStarted)
            {
                http.Response.Clear();
                await ApiErrors.WriteAsync(http, surface, e.StatusCode, ApiErrors.DefaultMessage(http, e.StatusCode));
                return;
            }
            catch (Exception e)
            {
                logger.LogError(e, "unhandled exception on {Method} {Path}", http.Request.Method, http.Request.Path);
                if (!http.Response.HasStarted)
                {
                    http.Response.Clear();
                    await ApiErrors.WriteAsync(http, surface, StatusCodes.Status500InternalServerError, ApiErrors.InternalErrorMessage);
                }
                else if (http.Response.ContentType?.StartsWith("text/event-stream", StringComparison.Ordinal) == true)
                {
                    var (body, options) = ApiErrors.Body(surface, StatusCodes.Status500InternalServerError, ApiErrors.InternalErrorMessage);
                    await EventStream.WriteFinalAsync(http.Response, body, options, http.RequestAborted);
                }
                else
                {
                    throw; // a started JSON body cannot be mended; Kestrel ends the connection
                }
                return;
            }
            if (!http.Response.HasStarted && http.Response.StatusCode >= 400 && http.Response.ContentType is null && http.Response.ContentLength is null)
                await ApiErrors.WriteAsync(http, surface, http.Response.StatusCode, ApiErrors.DefaultMessage(http, http.Response.StatusCode));
        });
    }
}
