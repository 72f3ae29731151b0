using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Inkwell.Server.Tls;

/// <summary>
/// Accepts a client certificate only if it chains to one of the configured CAs. The system trust store plays no part:
/// a certificate from a publicly trusted CA is refused too.
/// </summary>
public sealed class ClientCertificateValidator(X509Certificate2Collection trustedCas)
{
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    public bool IsTrusted(X509Certificate2 certificate)
    {
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(trustedCas);
        // Private CAs for mTLS rarely publish revocation lists; TGIS (rustls) does not check them either.
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.ApplicationPolicy.Add(ClientAuthentication);
        try
        {
            return chain.Build(certificate);
        }
        finally
        {
            foreach (var element in chain.ChainElements) element.Certificate.Dispose();
        }
    }
}
