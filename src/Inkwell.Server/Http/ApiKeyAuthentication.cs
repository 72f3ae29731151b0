using System.Security.Cryptography;
using System.Text;
using Inkwell.Server.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Inkwell.Server.Http;

/// <summary>
/// --api-key (TGI's and vLLM's): every API route wants "Authorization: Bearer &lt;key&gt;", over HTTP and in gRPC
/// metadata alike. A missing or wrong key is 401 in the API's own shape (TGI, OpenAI) or UNAUTHENTICATED (gRPC).
/// Probes and scrapes stay open: GET /health, /live, /metrics, the playground and the static API description (/, /docs,
/// /openapi.json: PlaygroundEndpoints.IsPage) and
/// grpc.health.v1. CORS preflights never carry credentials, so CORS runs before this check.
/// </summary>
public sealed class ApiKeyCheck
{
    private readonly byte[] _expectedHash;

    public ApiKeyCheck(string apiKey)
    {
        if (string.IsNullOrWhiteSpace(apiKey)) throw new ArgumentException("--api-key must not be empty");
        _expectedHash = SHA256.HashData(Encoding.UTF8.GetBytes(apiKey));
    }

    /// <summary>Whether the request carries the key. Both sides are hashed first, so the compare takes the same time whatever the length or content sent.</summary>
    public bool Accepts(string? authorization)
    {
        const string scheme = "Bearer ";
        if (authorization is null || !authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)) return false;
        var presented = SHA256.HashData(Encoding.UTF8.GetBytes(authorization.AsSpan(scheme.Length).Trim().ToString()));
        return CryptographicOperations.FixedTimeEquals(presented, _expectedHash);
    }

    /// <summary>Paths any caller may read: readiness and liveness probes, the metrics scrape and the static pages.</summary>
    public static bool IsOpen(HttpContext http, ApiSurface surface) => surface == ApiSurface.Grpc
        ? http.Request.Path.StartsWithSegments("/grpc.health.v1.Health")
        : (HttpMethods.IsGet(http.Request.Method) || HttpMethods.IsHead(http.Request.Method))
            && (http.Request.Path.Equals("/health") || http.Request.Path.Equals(ProbeRoutes.Liveness) || http.Request.Path.Equals("/metrics")
                || Playground.PlaygroundEndpoints.IsPage(http.Request));

    public const string MissingMessage = "Missing API key: send it as \"Authorization: Bearer <key>\"";
    public const string WrongMessage = "Incorrect API key provided";
}

public static class ApiKeyAuthentication
{
    /// <summary>Refuses API calls without the key; place after error shaping and CORS, before the routes.</summary>
    public static void UseApiKey(this WebApplication app, string apiKey)
    {
        var check = new ApiKeyCheck(apiKey);
        app.Use(async (http, next) =>
        {
            var surface = ApiSurfaces.Of(http);
            string? authorization = http.Request.Headers.Authorization;
            if (ApiKeyCheck.IsOpen(http, surface) || check.Accepts(authorization))
            {
                await next(http);
                return;
            }
            string message = authorization is null ? ApiKeyCheck.MissingMessage : ApiKeyCheck.WrongMessage;
            if (surface == ApiSurface.Grpc)
            {
                // A trailers-only gRPC answer: HTTP 200 with the status in the headers, as Grpc.AspNetCore writes one.
                http.Response.StatusCode = StatusCodes.Status200OK;
                http.Response.ContentType = "application/grpc";
                http.Response.Headers["grpc-status"] = "16"; // UNAUTHENTICATED
                http.Response.Headers["grpc-message"] = Uri.EscapeDataString(message);
                return;
            }
            http.Response.Headers[HeaderNames.WWWAuthenticate] = "Bearer";
            await ApiErrors.WriteAsync(http, surface, StatusCodes.Status401Unauthorized, message);
        });
    }
}
