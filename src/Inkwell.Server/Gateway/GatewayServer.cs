using Inkwell.Client.Gateway;
using Inkwell.Client.Registry;
using Inkwell.Server.Hosting;
using Inkwell.Server.Http;
using Inkwell.Server.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inkwell.Server.Gateway;

/// <summary>What the gateway routes need: the registry, the router to remote deployments' replicas (Inkwell.Client),
/// the pool of local ones and the metrics. A singleton in DI.</summary>
public sealed class GatewayState : IAsyncDisposable
{
    internal GatewayState(ModelRegistry registry, GatewayOptions options, ILogger logger)
    {
        Registry = registry;
        Logger = logger;
        Metrics = new GatewayMetrics();
        Tgis = new TgisRelay();
        Router = new InferenceGateway(registry, replicaOptions: options.Replicas with
        {
            GrpcProbe = Tgis.ProbeAsync,
            OnAttempt = Metrics.OnAttempt,
            OnHealthChanged = (deployment, replica, healthy, reason) =>
            {
                if (healthy) logger.LogInformation("Deployment '{Deployment}': replica {Replica} re-admitted ({Reason})", deployment, replica, reason);
                else logger.LogWarning("Deployment '{Deployment}': replica {Replica} ejected ({Reason})", deployment, replica, reason);
            },
        });
        Metrics.ReplicaSets = () => Router.ReplicaSets;
        Discovery = new ReplicaDiscovery(Router, options.Discovery, logger);
        Local = new LocalDeploymentPool(options.LocalDefaults, options.MemoryBudgetBytes, logger);
    }

    public ModelRegistry Registry { get; }
    public InferenceGateway Router { get; }
    public GatewayMetrics Metrics { get; }
    internal LocalDeploymentPool Local { get; }
    internal ReplicaDiscovery Discovery { get; }
    internal TgisRelay Tgis { get; }
    internal ILogger Logger { get; }

    /// <summary>Local deployments now loaded, least recently used first.</summary>
    public IReadOnlyList<string> LoadedLocalDeployments => Local.Loaded;

    /// <summary>How many times a local deployment was started / unloaded to fit the budget.</summary>
    public int LocalLoadCount => Local.LoadCount;
    public int LocalEvictionCount => Local.EvictionCount;

    public async ValueTask DisposeAsync()
    {
        await Discovery.DisposeAsync();
        await Local.DisposeAsync();
        Router.Dispose();
        Tgis.Dispose();
    }
}

/// <summary>Builds the gateway: one endpoint in front of every deployment in a registry (`inkwell serve --registry DIR`).</summary>
public static class GatewayServer
{
    public static WebApplication Build(GatewayOptions options, ModelRegistry registry, string[]? args = null, Action<WebApplicationBuilder>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(registry);
        // Local engine options are only read at first use: check them now, so a typo fails the start, not a request.
        foreach (var deployment in registry.Deployments.Where(d => d.ClientSpec.Kind == ClientKind.Local))
            LocalDeployment.OptionsFor(deployment, options.LocalDefaults);
        var builder = WebApplication.CreateSlimBuilder(args ?? []);
        builder.Logging.SetMinimumLevel(LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", LogLevel.Warning);
        // --json-output and --otlp-endpoint are the process's: its log lines and one tracer, which (its listeners
        // being process-wide) also sees the local deployments' hosts and traces the calls to every replica.
        var telemetry = options.LocalDefaults;
        if (telemetry.JsonOutput) builder.UseJsonLogs();
        if (telemetry.OtlpEndpoint is { } otlp) builder.AddOtlpTracing(otlp, telemetry.OtlpServiceName, telemetry.OtlpProtocol, outgoingCalls: true);
        builder.Services.AddSingleton(sp => new GatewayState(registry, options, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Inkwell.Gateway")));
        builder.WebHost.UseUrls($"http://{options.Hostname}:{options.Port}");
        // SIGTERM: readiness and new requests 503 at once, relayed ones finish within --shutdown-grace-period.
        var drain = RequestDrain.AddTo(builder, options.LocalDefaults.ShutdownGracePeriod);
        if (options.CorsAllowOrigins.Count > 0) builder.Services.AddInkwellCors(options.CorsAllowOrigins);
        configure?.Invoke(builder);
        var app = builder.Build();
        drain.UseIn(app);
        if (options.CorsAllowOrigins.Count > 0) app.UseCors();
        if (options.ApiKey is { } apiKey) app.UseApiKey(apiKey);
        app.MapGateway();
        app.Lifetime.ApplicationStarted.Register(() => LogStart(app, options, registry));
        // Stop the in-process deployments with the gateway (DI disposes the state, but only synchronously on some paths).
        app.Lifetime.ApplicationStopped.Register(() => app.Services.GetRequiredService<GatewayState>().DisposeAsync().AsTask().GetAwaiter().GetResult());
        return app;
    }

    private static void LogStart(WebApplication app, GatewayOptions options, ModelRegistry registry)
    {
        var budget = options.MemoryBudgetBytes is { } bytes ? $"{bytes / 1048576} MiB for local deployments" : "no memory budget";
        app.Services.GetRequiredService<GatewayState>().Logger.LogInformation(
            "Gateway over {Models} models, {Deployments} deployments ({Budget}), serving on {Addresses} (/models/{{model}}/generate, /deployments/{{deployment}}/generate, /v1/..., /metrics)",
            registry.Models.Count, registry.Deployments.Count, budget, string.Join(", ", InkwellServer.BoundAddresses(app)));
    }
}
