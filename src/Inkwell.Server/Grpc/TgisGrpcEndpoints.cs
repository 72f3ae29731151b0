using Inkwell.Server.Grpc.Fmaas;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Inkwell.Server.Grpc;

/// <summary>The gRPC services a TGIS-compatible server offers: fmaas.GenerationService, grpc.health.v1 and server reflection.</summary>
public static class TgisGrpcEndpoints
{
    /// <summary>
    /// Registers Grpc.AspNetCore (gzip request decompression is on by default), reflection and health checking.
    /// Health: the whole server ("") and fmaas.GenerationService are SERVING while <paramref name="isHealthy"/> says so;
    /// checks run on each Check call. Needs an <see cref="IGenerationBackend"/> in DI.
    /// </summary>
    public static IServiceCollection AddTgisGrpc(this IServiceCollection services, Func<bool>? isHealthy = null,
        Action<global::Grpc.AspNetCore.Server.GrpcServiceOptions>? configure = null)
    {
        services.AddGrpc(options => configure?.Invoke(options));
        services.AddGrpcReflection();
        services.AddGrpcHealthChecks(options => options.Services.Map(GenerationService.Descriptor.FullName, _ => true))
            .AddCheck("engine", () => isHealthy is null || isHealthy() ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy("the engine stopped"));
        return services;
    }

    /// <summary>Maps the services <see cref="AddTgisGrpc"/> registered.</summary>
    public static void MapTgisGrpc(this WebApplication app)
    {
        app.MapGrpcService<TgisGenerationService>();
        app.MapGrpcHealthChecksService();
        app.MapGrpcReflectionService();
    }
}
