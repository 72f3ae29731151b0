using System.Net;
using Grpc.AspNetCore.Server;
using Inkwell.Server.Tls;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;

namespace Inkwell.Server.Grpc;

/// <summary>The Kestrel endpoint gRPC is served on (TGIS: --grpc-port, default 8033), kept apart from the REST one.</summary>
public static class GrpcListener
{
    public const int DefaultPort = 8033;
    public const string PortConfigurationKey = "grpc-port";

    /// <summary>--grpc-port from the command line (or grpc-port from any configuration source), else 8033.</summary>
    public static int PortFrom(IConfiguration configuration) => configuration.GetValue(PortConfigurationKey, DefaultPort);

    /// <summary>
    /// Listens for gRPC: cleartext HTTP/2 only (h2c with prior knowledge, as gRPC clients do), or with TLS
    /// HTTP/1.1 and HTTP/2 negotiated by ALPN.
    /// </summary>
    public static void ListenGrpc(this KestrelServerOptions kestrel, IPAddress address, int port, TlsOptions? tls = null,
        Action<ListenOptions>? bound = null) =>
        kestrel.Listen(address, port, listen =>
        {
            // Marks this listener's connections so the app can keep gRPC and REST routes on their own ports.
            listen.Use(next => connection =>
            {
                connection.Features.Set(GrpcConnectionFeature.Instance);
                return next(connection);
            });
            bound?.Invoke(listen);
            if (tls is null)
            {
                listen.Protocols = HttpProtocols.Http2;
                return;
            }
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseTls(tls);
        });

    /// <summary>Whether the request arrived on a <see cref="ListenGrpc"/> listener.</summary>
    public static bool IsGrpcListener(HttpContext http) => http.Features.Get<GrpcConnectionFeature>() is not null;

    /// <summary>
    /// Keeps the APIs apart when one app serves both ports, as TGIS's two servers are: on the gRPC port only gRPC
    /// methods answer (anything else is UNIMPLEMENTED, as a gRPC server says it); on other ports gRPC calls are 404.
    /// Routing runs first so the matched endpoint tells which API a request is for.
    /// </summary>
    public static void UseGrpcPortSeparation(this WebApplication app)
    {
        app.UseRouting();
        app.Use(async (http, next) =>
        {
            bool grpcMethod = http.GetEndpoint()?.Metadata.GetMetadata<GrpcMethodMetadata>() is not null;
            if (IsGrpcListener(http))
            {
                if (grpcMethod) await next(http);
                else WriteUnimplemented(http.Response, $"Method is unimplemented: {http.Request.Path}");
            }
            else if (grpcMethod || IsGrpcContentType(http.Request.ContentType))
            {
                http.Response.StatusCode = StatusCodes.Status404NotFound;
            }
            else
            {
                await next(http);
            }
        });
    }

    private static bool IsGrpcContentType(string? contentType) =>
        contentType?.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase) == true;

    /// <summary>A trailers-only gRPC answer: the status rides in the headers of a response without a body.</summary>
    private static void WriteUnimplemented(HttpResponse response, string message)
    {
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = ((int)global::Grpc.Core.StatusCode.Unimplemented).ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = Uri.EscapeDataString(message);
    }

    private sealed class GrpcConnectionFeature
    {
        public static readonly GrpcConnectionFeature Instance = new();
    }
}

/// <summary>The gRPC listener of a running server: its port once bound (the real one when 0 was asked for).</summary>
public sealed class GrpcEndpoint
{
    internal ListenOptions? Listen { get; set; }

    /// <summary>The bound port; 0 before the server started or when it serves no gRPC.</summary>
    public int Port => Listen?.EndPoint is IPEndPoint ip ? ip.Port : 0;
}
