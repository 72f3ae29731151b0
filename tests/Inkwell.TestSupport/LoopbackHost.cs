using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Inkwell.TestSupport;

/// <summary>
/// A web app on a loopback port, the one way test harnesses start Kestrel: built by a factory that is given the port
/// to listen on (0: any free one), started, asked for its bound address, and restartable on that same port.
/// </summary>
public sealed class LoopbackHost : IAsyncDisposable
{
    private readonly Func<int, WebApplication> _build;
    private readonly Func<WebApplication, IReadOnlyList<Uri>, Uri> _pickAddress;
    private WebApplication? _app;

    private LoopbackHost(Func<int, WebApplication> build, Func<WebApplication, IReadOnlyList<Uri>, Uri>? pickAddress)
    {
        _build = build;
        _pickAddress = pickAddress ?? ((_, addresses) => addresses[0]);
    }

    /// <summary>The running app; throws while stopped.</summary>
    public WebApplication App => _app ?? throw new InvalidOperationException("the host is stopped");

    /// <summary>The address clients use (scheme, 127.0.0.1 and the bound port).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public int Port => BaseAddress.Port;

    /// <param name="build">Builds the app to listen on the given loopback port.</param>
    /// <param name="pickAddress">Which bound address is the clients' when the app listens on several (default: the first).</param>
    public static async Task<LoopbackHost> StartAsync(Func<int, WebApplication> build,
        Func<WebApplication, IReadOnlyList<Uri>, Uri>? pickAddress = null, int port = 0)
    {
        var host = new LoopbackHost(build, pickAddress);
        await host.StartOnAsync(port);
        return host;
    }

    /// <summary>A minimal app listening on 127.0.0.1:port whose routes the caller maps.</summary>
    public static Task<LoopbackHost> StartAsync(Action<WebApplication> routes, int port = 0) =>
        StartAsync(p =>
        {
            var builder = CreateBuilder();
            builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, p));
            var app = builder.Build();
            routes(app);
            return app;
        }, port: port);

    /// <summary>A slim builder for test apps: no logging, a short shutdown so stopping never waits long on open streams.</summary>
    public static WebApplicationBuilder CreateBuilder()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(2));
        return builder;
    }

    /// <summary>Every address a started app is bound to, in listen order.</summary>
    public static IReadOnlyList<Uri> Addresses(WebApplication app) =>
        [.. app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Select(a => new Uri(a))];

    /// <summary>A client for <see cref="BaseAddress"/>; the caller disposes it.</summary>
    public HttpClient CreateClient(HttpMessageHandler? handler = null) =>
        new(handler ?? new SocketsHttpHandler()) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>Starts again on the port it had, as a restarted endpoint would; nothing when running.</summary>
    public Task RestartAsync() => _app is null ? StartOnAsync(Port) : Task.CompletedTask;

    public async Task StopAsync()
    {
        if (_app is null) return;
        var app = _app;
        _app = null;
        await app.StopAsync();
        await app.DisposeAsync();
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    /// <summary>A loopback port nothing listens on (bound, then released).</summary>
    public static int ClosedPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private async Task StartOnAsync(int port)
    {
        var app = _build(port);
        try
        {
            await app.StartAsync();
        }
        catch
        {
            await app.DisposeAsync();
            throw;
        }
        var address = _pickAddress(app, Addresses(app));
        BaseAddress = new UriBuilder(address) { Host = "127.0.0.1" }.Uri;
        _app = app;
    }
}
