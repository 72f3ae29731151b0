using System.Net;
using Grpc.Net.Client;
using Inkwell.Server.Grpc;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Tls;
using Inkwell.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.Tests.Grpc;

/// <summary>The gRPC services over a given backend on a loopback gRPC listener (plus GET /ping for plain HTTPS checks).</summary>
internal sealed class GrpcTestServer : IAsyncDisposable
{
    private readonly LoopbackHost _host;

    private GrpcTestServer(LoopbackHost host) => _host = host;

    public string Target => $"127.0.0.1:{_host.Port}";

    public Uri BaseAddress => _host.BaseAddress;

    public static async Task<GrpcTestServer> StartAsync(IGenerationBackend backend, TlsOptions? tls = null,
        Action<global::Grpc.AspNetCore.Server.GrpcServiceOptions>? configureGrpc = null, Func<bool>? isHealthy = null) =>
        new(await LoopbackHost.StartAsync(port =>
        {
            var builder = LoopbackHost.CreateBuilder();
            builder.Services.AddSingleton(backend);
            builder.Services.AddTgisGrpc(isHealthy, configureGrpc);
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.ListenGrpc(IPAddress.Loopback, port, tls));
            var app = builder.Build();
            app.MapTgisGrpc();
            app.MapGet("/ping", () => "pong");
            return app;
        }));

    /// <summary>A typed client on a channel of its own; the caller disposes the channel.</summary>
    public (GrpcChannel Channel, GenerationService.GenerationServiceClient Client) Connect(HttpMessageHandler? handler = null)
    {
        var channel = GrpcChannel.ForAddress(BaseAddress, new GrpcChannelOptions
        {
            HttpHandler = handler ?? new SocketsHttpHandler(),
            MaxReceiveMessageSize = null,
        });
        return (channel, new GenerationService.GenerationServiceClient(channel));
    }

    public ValueTask DisposeAsync() => _host.DisposeAsync();
}
