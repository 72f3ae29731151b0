using Inkwell.Client.Gateway;
using Inkwell.Server.Tgi;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.Gateway;

/// <summary>Serves TGI routes for a deployment that speaks TGIS gRPC.</summary>
internal static class TgisRelay
{
    public static Task ServeAsync(HttpContext ctx, GatewayState g, GatewayRoute route, string action, byte[]? body) =>
        TgiEndpoints.WriteError(ctx, 501, $"Deployment '{route.Deployment.Name}' speaks TGIS gRPC; the gateway does not relay /{action} to it yet.", "not_supported");
}
