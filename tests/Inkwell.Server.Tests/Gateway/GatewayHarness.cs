using System.Net;
using System.Net.Sockets;
using Inkwell.Client;
using Inkwell.Client.Registry;
using Inkwell.Server.Gateway;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>A gateway over a registry written to a temporary directory, listening on a free loopback port.</summary>
public sealed class GatewayHarness : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _dir;

    private GatewayHarness(WebApplication app, string dir, Uri address)
    {
        _app = app;
        _dir = dir;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
    }

    public HttpClient Client { get; }
    public GatewayState State => _app.Services.GetRequiredService<GatewayState>();

    public static string EmbeddedModel => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");

    public static string GoldenGreedy { get; } =
        RepoPaths.GoldenGreedyText;

    public static async Task<GatewayHarness> StartAsync(string metadataYaml, string deploymentsYaml, long? budgetBytes = null)
    {
        var dir = Path.Combine(Path.GetTempPath(), "inkwell-gateway-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        await File.WriteAllTextAsync(Path.Combine(dir, ModelRegistry.MetadataFileName), metadataYaml);
        await File.WriteAllTextAsync(Path.Combine(dir, ModelRegistry.DeploymentsFileName), deploymentsYaml);
        try
        {
            return await StartInAsync(dir, budgetBytes);
        }
        catch
        {
            Directory.Delete(dir, recursive: true);
            throw;
        }
    }

    private static async Task<GatewayHarness> StartInAsync(string dir, long? budgetBytes)
    {
        var registry = ModelRegistry.LoadFromDirectory(dir);
        var options = new GatewayOptions
        {
            Hostname = "127.0.0.1",
            Port = 0,
            MemoryBudgetBytes = budgetBytes,
            LocalDefaults = new ServerOptions { NumThreads = 1, MaxTotalTokens = 256, MaxBatchTotalTokens = 2048 },
            RemoteClient = new InferenceClientOptions
            {
                BaseAddress = new Uri("http://localhost/"),
                MaxAttempts = 2,
                RetryBaseDelay = TimeSpan.FromMilliseconds(50),
                ConnectTimeout = TimeSpan.FromSeconds(2),
                DnsTimeout = TimeSpan.FromSeconds(2),
            },
        };
        var app = GatewayServer.Build(options, registry);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new GatewayHarness(app, dir, new Uri(address));
    }

    /// <summary>A loopback port nothing listens on (bound, then released).</summary>
    public static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        try { Directory.Delete(_dir, recursive: true); } catch (IOException) { /* a temp dir left behind is harmless */ }
    }
}
