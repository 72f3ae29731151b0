using Inkwell.Server.Grpc;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Http;

/// <summary>Which API a request belongs to, so an error the route never saw (Kestrel's, an exception) keeps that API's shape.</summary>
public enum ApiSurface
{
    /// <summary>TGI's routes and everything not under /v1: {"error": "...", "error_type": "..."}.</summary>
    Tgi,
    /// <summary>/v1/...: {"error": {"message", "type", "param", "code"}}.</summary>
    OpenAI,
    /// <summary>TGIS over gRPC: the status rides in grpc-status, never in a JSON body.</summary>
    Grpc,
}

public static class ApiSurfaces
{
    public static ApiSurface Of(HttpContext http)
    {
        if (GrpcListener.IsGrpcListener(http)
            || http.Request.ContentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true)
            return ApiSurface.Grpc;
        return http.Request.Path.StartsWithSegments("/v1") ? ApiSurface.OpenAI : ApiSurface.Tgi;
    }
}
