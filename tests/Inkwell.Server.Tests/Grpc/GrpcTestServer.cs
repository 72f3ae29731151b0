using System.Net;
using Inkwell.Server.Grpc;
using Inkwell.Server.Tls;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Inkwell.Server.Tests.Grpc;

/// <summary>A real Kestrel server on a free loopback port serving the gRPC listener (and GET /ping for plain HTTPS checks).</summary>
internal sealed class GrpcTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private GrpcTestServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    public int Port { get; }

    public string Target => $"127.0.0.1:{Port}";

    public Uri BaseAddress(bool tls = false) => new($"{(tls ? "https" : "http")}://127.0.0.1:{Port}");

    public static async Task<GrpcTestServer> StartAsync(IGenerationBackend backend, TlsOptions? tls = null, Action<GrpcServerOptions>? configureGrpc = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = ["--hostBuilder:reloadConfigOnChange=false"],
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(backend);
        builder.Services.Configure<GrpcServerOptions>(options => configureGrpc?.Invoke(options));
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenGrpc(IPAddress.Loopback, 0, tls));

        var app = builder.Build();
        app.MapGenerationService();
        app.MapGet("/ping", () => "pong");
        await app.StartAsync();

        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();
        return new GrpcTestServer(app, new Uri(address).Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
