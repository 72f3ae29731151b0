using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;

namespace Inkwell.Server.Tls;

public static class TlsListenOptionsExtensions
{
    /// <summary>
    /// Serves HTTPS on this endpoint (HTTP port or gRPC port alike); with a client CA, a client certificate
    /// chaining to that CA is required and every other client is refused during the handshake.
    /// </summary>
    public static ListenOptions UseTls(this ListenOptions listen, TlsOptions tls)
    {
        var serverCertificate = PemCertificates.LoadServerCertificate(tls.CertPath, tls.KeyPath);
        var intermediates = PemCertificates.LoadIntermediates(tls.CertPath);
        var clientValidator = tls.ClientCaCertPath is { } caPath
            ? new ClientCertificateValidator(PemCertificates.LoadAll(caPath))
            : null;

        return listen.UseHttps(https =>
        {
            https.ServerCertificate = serverCertificate;
            if (intermediates.Count > 0) https.ServerCertificateChain = intermediates;
            if (clientValidator is null) return;

            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            // The platform's verdict (errors) is against the system store; ours is against the client CA only.
            https.ClientCertificateValidation = (certificate, _, _) => clientValidator.IsTrusted(certificate);
        });
    }
}
