using Inkwell.Server.Tgi;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inkwell.Server.Hosting;

/// <summary>
/// The probe endpoints an orchestrator polls. Readiness is TGI's own /health, mapped by each API (TgiEndpoints,
/// GatewayEndpoints; 503 while draining or when the engine failed), so TGI's clients and load balancers keep working;
/// liveness is a separate /live that stays 200 through the drain, because a liveness probe failing during a drain
/// would have Kubernetes kill the pod mid-stream.
/// </summary>
public static class ProbeRoutes
{
    /// <summary>Liveness: 200 while the process can still do work, draining included.</summary>
    public const string Liveness = "/live";

    /// <summary>Maps <see cref="Liveness"/>: 200, or 503 in TGI's shape once <paramref name="isAlive"/> says the
    /// process can never serve again (a restart is the only cure).</summary>
    public static IEndpointRouteBuilder MapLiveness(this IEndpointRouteBuilder app, Func<bool> isAlive)
    {
        app.MapGet(Liveness, () => isAlive()
            ? Results.Ok()
            : Results.Json(new ErrorResponseDto("the inference engine stopped; restart the process", "unhealthy"), TgiJson.Options, statusCode: 503));
        return app;
    }
}
