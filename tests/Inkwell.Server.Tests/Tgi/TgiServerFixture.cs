using Inkwell.Models.Loading;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.Tests.Tgi;

/// <summary>A real Inkwell server (Kestrel on a free loopback port) over the embedded stories260K.</summary>
public sealed class TestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TestServer(WebApplication app, HttpClient client)
    {
        _app = app;
        Client = client;
    }

    public HttpClient Client { get; }
    public ServerState State => _app.Services.GetRequiredService<ServerState>();
    public string GoldenGreedy { get; } = RepoPaths.GoldenGreedyText;

    /// <summary>The bound gRPC port when options set GrpcPort (0 picks a free one), else 0.</summary>
    public int GrpcPort => _app.Services.GetRequiredService<Inkwell.Server.Grpc.GrpcEndpoint>().Port;
    public string GrpcTarget => $"127.0.0.1:{GrpcPort}";

    /// <param name="handler">For the HTTP client, e.g. one trusting a test CA when options set Tls.</param>
    public static async Task<TestServer> StartAsync(ServerOptions? options = null, HttpMessageHandler? handler = null)
    {
        var model = ModelLoader.Load(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        var o = (options ?? new ServerOptions()) with { Hostname = "127.0.0.1", Port = 0, NumThreads = 1 };
        var app = InkwellServer.Build(o, model);
        await app.StartAsync();
        int grpcPort = app.Services.GetRequiredService<Inkwell.Server.Grpc.GrpcEndpoint>().Port;
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses
            .First(a => new Uri(a).Port != grpcPort);
        var client = handler is null ? new HttpClient() : new HttpClient(handler);
        client.BaseAddress = new Uri(address);
        client.Timeout = TimeSpan.FromSeconds(60);
        return new TestServer(app, client);
    }

    public async ValueTask DisposeAsync()
    {
        var model = State.Model;
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
        model.Dispose();
    }
}

public sealed class SharedServer : IAsyncLifetime
{
    public TestServer Server { get; private set; } = null!;
    public async Task InitializeAsync() => Server = await TestServer.StartAsync();
    public async Task DisposeAsync() => await Server.DisposeAsync();
}
