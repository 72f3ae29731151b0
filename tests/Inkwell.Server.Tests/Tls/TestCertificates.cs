using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Inkwell.Server.Tls;

namespace Inkwell.Server.Tests.Tls;

/// <summary>
/// A throwaway PKI made at test time: a CA issuing the server certificate (localhost, 127.0.0.1) and a client
/// certificate, plus an unrelated CA with its own client certificate; PEM files in a temp folder.
/// </summary>
internal sealed class TestCertificates : IDisposable
{
    private static readonly Oid ServerAuthentication = new("1.3.6.1.5.5.7.3.1");
    private static readonly Oid ClientAuthentication = new("1.3.6.1.5.5.7.3.2");

    public TestCertificates()
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("inkwell-tls-").FullName;
        Ca = CreateCa("CN=Inkwell Test CA");
        OtherCa = CreateCa("CN=Some Other CA");
        Server = CreateLeaf(Ca, "CN=localhost", ServerAuthentication, withServerNames: true);
        Client = CreateLeaf(Ca, "CN=inkwell-client", ClientAuthentication, withServerNames: false);
        ForeignClient = CreateLeaf(OtherCa, "CN=foreign-client", ClientAuthentication, withServerNames: false);

        WritePem(Ca, CaCertPath, null);
        WritePem(Server, ServerCertPath, ServerKeyPath);
        WritePem(Client, ClientCertPath, ClientKeyPath);
        WritePem(ForeignClient, ForeignClientCertPath, ForeignClientKeyPath);
    }

    public string Directory { get; }
    public X509Certificate2 Ca { get; }
    public X509Certificate2 OtherCa { get; }
    public X509Certificate2 Server { get; }
    public X509Certificate2 Client { get; }
    public X509Certificate2 ForeignClient { get; }

    public string CaCertPath => Path.Combine(Directory, "ca.pem");
    public string ServerCertPath => Path.Combine(Directory, "server.pem");
    public string ServerKeyPath => Path.Combine(Directory, "server.key");
    public string ClientCertPath => Path.Combine(Directory, "client.pem");
    public string ClientKeyPath => Path.Combine(Directory, "client.key");
    public string ForeignClientCertPath => Path.Combine(Directory, "foreign-client.pem");
    public string ForeignClientKeyPath => Path.Combine(Directory, "foreign-client.key");

    public TlsOptions ServerOnly => new() { CertPath = ServerCertPath, KeyPath = ServerKeyPath };
    public TlsOptions Mutual => ServerOnly with { ClientCaCertPath = CaCertPath };

    public void Dispose()
    {
        foreach (var certificate in new[] { Ca, OtherCa, Server, Client, ForeignClient }) certificate.Dispose();
        System.IO.Directory.Delete(Directory, recursive: true);
    }

    private static X509Certificate2 CreateCa(string subject)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
    }

    private static X509Certificate2 CreateLeaf(X509Certificate2 issuer, string subject, Oid usage, bool withServerNames)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([usage], false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));
        if (withServerNames)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddDnsName("localhost");
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }

        var serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7F; // positive
        // Inside the issuer's validity, which CertificateRequest insists on.
        using var certificate = request.Create(issuer, issuer.NotBefore, issuer.NotAfter.AddDays(-1), serial);
        using var withKey = certificate.CopyWithPrivateKey(key);
        // Round trip through PKCS#12 so TLS clients can use the key on every platform.
        return X509CertificateLoader.LoadPkcs12(withKey.Export(X509ContentType.Pkcs12), password: null);
    }

    private static void WritePem(X509Certificate2 certificate, string certPath, string? keyPath)
    {
        File.WriteAllText(certPath, certificate.ExportCertificatePem());
        if (keyPath is not null) File.WriteAllText(keyPath, certificate.GetECDsaPrivateKey()!.ExportPkcs8PrivateKeyPem());
    }
}
