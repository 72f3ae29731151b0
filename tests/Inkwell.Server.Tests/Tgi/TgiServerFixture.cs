using Inkwell.Models.Loading;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.Tests.Tgi;

/// <summary>A real Inkwell server (Kestrel on a free loopback port) over the embedded stories260K.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly LoopbackHost _host;
    private readonly LoadedModel _model;

    private TestServer(LoopbackHost host, LoadedModel model, HttpMessageHandler? handler)
    {
        _host = host;
        _model = model;
        Client = host.CreateClient(handler);
    }

    public HttpClient Client { get; }
    /// <summary>The running app (its lifetime, e.g. to stop it as SIGTERM would).</summary>
    public WebApplication App => _host.App;
    public ServerState State => _host.App.Services.GetRequiredService<ServerState>();
    public string GoldenGreedy { get; } = RepoPaths.GoldenGreedyText;

    /// <summary>The bound gRPC port when options set GrpcPort (0 picks a free one), else 0.</summary>
    public int GrpcPort => GrpcPortOf(_host.App);
    public string GrpcTarget => $"127.0.0.1:{GrpcPort}";

    /// <param name="handler">For the HTTP client, e.g. one trusting a test CA when options set Tls.</param>
    /// <param name="configure">Changes to the web host before it is built (e.g. Kestrel limits).</param>
    public static async Task<TestServer> StartAsync(ServerOptions? options = null, HttpMessageHandler? handler = null,
        Action<WebApplicationBuilder>? configure = null)
    {
        var model = ModelLoader.Load(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        var o = (options ?? new ServerOptions()) with { Hostname = "127.0.0.1", NumThreads = 1 };
        try
        {
            var host = await LoopbackHost.StartAsync(port => InkwellServer.Build(o with { Port = port }, model, configure: configure),
                (app, addresses) => addresses.First(a => a.Port != GrpcPortOf(app)));
            return new TestServer(host, model, handler);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    private static int GrpcPortOf(WebApplication app) => app.Services.GetRequiredService<Inkwell.Server.Grpc.GrpcEndpoint>().Port;

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _host.DisposeAsync();
        _model.Dispose();
    }
}

public sealed class SharedServer : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;
    public async Task InitializeAsync() => Server = await TestServer.StartAsync();
    public async Task DisposeAsync() => await Server.DisposeAsync();
}
