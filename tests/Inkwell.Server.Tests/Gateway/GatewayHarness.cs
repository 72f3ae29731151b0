using Inkwell.Client.Gateway;
using Inkwell.Client.Registry;
using Inkwell.Server.Gateway;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>A gateway over a registry written to a temporary directory, listening on a free loopback port.</summary>
public sealed class GatewayHarness : IAsyncDisposable
{
    private readonly LoopbackHost _host;
    private readonly string _dir;

    private GatewayHarness(LoopbackHost host, string dir)
    {
        _host = host;
        _dir = dir;
        Client = host.CreateClient();
    }

    public HttpClient Client { get; }
    public WebApplication App => _host.App;
    public GatewayState State => _host.App.Services.GetRequiredService<GatewayState>();

    public static string EmbeddedModel => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");

    public static string GoldenGreedy { get; } =
        RepoPaths.GoldenGreedyText;

    /// <summary>Quick probing and ejection, so replica tests see health change within a second or two.</summary>
    public static ReplicaSetOptions FastReplicas { get; } = new()
    {
        MaxAttempts = 3,
        FailuresToEject = 2,
        ProbeInterval = TimeSpan.FromMilliseconds(200),
        ProbeTimeout = TimeSpan.FromSeconds(1),
        ConnectTimeout = TimeSpan.FromSeconds(2),
    };

    /// <param name="apiKey">The gateway's --api-key; also given to the local deployments' defaults, which must drop it.</param>
    /// <param name="localDefaults">Changes to the local deployments' default options (the serve flags), e.g. telemetry.</param>
    /// <param name="configure">Changes to the gateway's web host before it is built.</param>
    public static async Task<GatewayHarness> StartAsync(string metadataYaml, string deploymentsYaml, long? budgetBytes = null, ReplicaSetOptions? replicas = null, string? apiKey = null,
        Func<ServerOptions, ServerOptions>? localDefaults = null, Action<WebApplicationBuilder>? configure = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "inkwell-gateway-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, ModelRegistry.MetadataFileName), metadataYaml);
        await File.WriteAllTextAsync(Path.Combine(dir, ModelRegistry.DeploymentsFileName), deploymentsYaml);
        try
        {
            return await StartInAsync(dir, budgetBytes, replicas ?? FastReplicas, apiKey, localDefaults, configure);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    private static async Task<GatewayHarness> StartInAsync(string dir, long? budgetBytes, ReplicaSetOptions replicas, string? apiKey,
        Func<ServerOptions, ServerOptions>? localDefaults, Action<WebApplicationBuilder>? configure)
    {
        var defaults = new ServerOptions { NumThreads = 1, MaxTotalTokens = 256, MaxBatchTotalTokens = 2048, GrpcPort = LoopbackHost.ClosedPort(), ApiKey = apiKey };
        var registry = ModelRegistry.LoadFromDirectory(dir);
        var options = new GatewayOptions
        {
            Hostname = "127.0.0.1",
            MemoryBudgetBytes = budgetBytes,
            ApiKey = apiKey,
            // A fixed gRPC port, as `inkwell serve` passes (8033): local deployments must not bind it, or the
            // second one would fail on it.
            LocalDefaults = localDefaults?.Invoke(defaults) ?? defaults,
            Replicas = replicas,
        };
        var host = await LoopbackHost.StartAsync(port => GatewayServer.Build(options with { Port = port }, registry, configure: configure));
        return new GatewayHarness(host, dir);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _host.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { /* a temp dir left behind is harmless */ }
    }
}
