using Inkwell.Server.OpenAI;
using Inkwell.Server.Tgi;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Inkwell.Server.Http;

/// <summary>
/// Error bodies for statuses no route chose (Kestrel's 413/408/431, 404, 405, unhandled exceptions, shutdown): the
/// API's own writer with the type that API uses for the status. Routes keep writing their own errors.
/// </summary>
public static class ApiErrors
{
    public const string InternalErrorMessage = "Internal server error";

    /// <summary>Writes the status and body for TGI and OpenAI; gRPC statuses are Grpc.AspNetCore's to write (trailers, not a body).</summary>
    public static Task WriteAsync(HttpContext http, ApiSurface surface, int status, string message)
    {
        if (surface == ApiSurface.Grpc) return Task.CompletedTask;
        var (body, options) = Body(surface, status, message);
        // A known length: these answers often precede closing the connection (413, 408, 431).
        var bytes = JsonSerializer.SerializeToUtf8Bytes(body, body.GetType(), options);
        http.Response.StatusCode = status;
        http.Response.ContentType = "application/json; charset=utf-8";
        http.Response.ContentLength = bytes.Length;
        return http.Response.Body.WriteAsync(bytes).AsTask();
    }

    /// <summary>The API's error object (TGI's ErrorResponse or OpenAI's error envelope) and its serializer options.</summary>
    public static (object Body, JsonSerializerOptions Options) Body(ApiSurface surface, int status, string message) => surface == ApiSurface.OpenAI
        ? (new OpenAIException(status, message, OpenAIType(status), code: OpenAICode(status)).ToDto(), OpenAIJson.Options)
        : (new ErrorResponseDto(message, TgiType(status)), TgiJson.Options);

    /// <summary>What a bare status says when nothing more is known.</summary>
    public static string DefaultMessage(HttpContext http, int status) => status switch
    {
        404 => $"Invalid URL ({http.Request.Method} {http.Request.Path})",
        405 => $"Method {http.Request.Method} is not allowed on {http.Request.Path}",
        413 => "Request body too large",
        408 => "Request timed out: the body arrived too slowly",
        431 => "Request header fields too large",
        500 => InternalErrorMessage,
        _ => ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : $"HTTP {status}",
    };

    /// <summary>TGI's error_type words (validation, overloaded, unhealthy, ...) for a status.</summary>
    public static string TgiType(int status) => status switch
    {
        401 => "unauthorized",
        404 => "not_found",
        405 => "method_not_allowed",
        408 => "timeout",
        429 => "overloaded",
        503 => "unhealthy",
        >= 500 => "internal",
        _ => "validation",
    };

    private static string OpenAIType(int status) => status switch
    {
        429 => "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    /// <summary>OpenAI's error code for a status where it has one.</summary>
    public static string? OpenAICode(int status) => status switch
    {
        401 => "invalid_api_key",
        404 => "not_found",
        413 => "request_too_large",
        415 => "unsupported_media_type",
        _ => null,
    };
}
