using System.Net;
using Inkwell.Server.Tls;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;

namespace Inkwell.Server.Grpc;

/// <summary>The Kestrel endpoint gRPC is served on (TGIS: --grpc-port, default 8033).</summary>
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
    public static void ListenGrpc(this KestrelServerOptions kestrel, IPAddress address, int port, TlsOptions? tls = null) =>
        kestrel.Listen(address, port, listen =>
        {
            if (tls is null)
            {
                listen.Protocols = HttpProtocols.Http2;
                return;
            }
            listen.Protocols = HttpProtocols.Http1AndHttp2;
            listen.UseTls(tls);
        });
}
