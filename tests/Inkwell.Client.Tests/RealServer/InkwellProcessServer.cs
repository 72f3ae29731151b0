using Inkwell.Models.Loading;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Client.Tests.RealServer;

/// <summary>A real Inkwell server (InkwellServer.Build over the embedded stories260K) on a loopback port,
/// which can be stopped and started again on the same port.</summary>
public sealed class InkwellProcessServer : IAsyncDisposable
{
    private WebApplication? _app;
    private LoadedModel? _model;

    public static string ModelPath => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");

    /// <summary>The greedy continuation from BOS, as written by the model's authors' reference run.</summary>
    public static string GoldenGreedy { get; } = RepoPaths.GoldenGreedyText;

    public int Port { get; private set; }
    public Uri BaseAddress => new($"http://127.0.0.1:{Port}/");
    public ServerOptions Options { get; }

    private InkwellProcessServer(ServerOptions options) => Options = options;

    /// <param name="port">0 for any free port.</param>
    public static async Task<InkwellProcessServer> StartAsync(ServerOptions? options = null, int port = 0)
    {
        var server = new InkwellProcessServer((options ?? new ServerOptions()) with { Hostname = "127.0.0.1", NumThreads = 1, MaxBatchTotalTokens = 2048 });
        await server.StartOnAsync(port);
        return server;
    }

    /// <summary>Starts again on the port it had (after StopAsync).</summary>
    public Task RestartAsync() => StartOnAsync(Port);

    private async Task StartOnAsync(int port)
    {
        _model = ModelLoader.Load(ModelPath);
        _app = InkwellServer.Build(Options with { Port = port }, _model);
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Port = new Uri(address).Port;
    }

    public async Task StopAsync()
    {
        if (_app is null) return;
        await _app.StopAsync();
        await _app.DisposeAsync();
        _model!.Dispose();
        _app = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
