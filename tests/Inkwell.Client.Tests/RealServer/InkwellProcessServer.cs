using Inkwell.Models.Loading;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;

namespace Inkwell.Client.Tests.RealServer;

/// <summary>A real Inkwell server (InkwellServer.Build over the embedded stories260K) on a loopback port,
/// which can be stopped and started again on the same port.</summary>
public sealed class InkwellProcessServer : IAsyncDisposable
{
    private LoopbackHost? _host;
    private LoadedModel? _model;

    public static string ModelPath => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");

    /// <summary>The greedy continuation from BOS, as written by the model's authors' reference run.</summary>
    public static string GoldenGreedy { get; } = RepoPaths.GoldenGreedyText;

    public int Port => _host!.Port;
    public Uri BaseAddress => _host!.BaseAddress;
    public ServerOptions Options { get; }

    private InkwellProcessServer(ServerOptions options) => Options = options;

    /// <param name="port">0 for any free port.</param>
    public static async Task<InkwellProcessServer> StartAsync(ServerOptions? options = null, int port = 0)
    {
        var server = new InkwellProcessServer((options ?? new ServerOptions()) with { Hostname = "127.0.0.1", NumThreads = 1, MaxBatchTotalTokens = 2048 });
        server._host = await LoopbackHost.StartAsync(server.Build, port: port);
        return server;
    }

    /// <summary>Starts again on the port it had (after StopAsync), with the model loaded afresh.</summary>
    public Task RestartAsync() => _host!.RestartAsync();

    private WebApplication Build(int port)
    {
        _model = ModelLoader.Load(ModelPath);
        return InkwellServer.Build(Options with { Port = port }, _model);
    }

    public async Task StopAsync()
    {
        if (_host is null) return;
        await _host.StopAsync();
        _model?.Dispose();
        _model = null;
    }

    public async ValueTask DisposeAsync() => await StopAsync();
}
