using System.Security.Cryptography.X509Certificates;

namespace Inkwell.Server.Tls;

/// <summary>Loads the PEM files named by <see cref="TlsOptions"/>.</summary>
public static class PemCertificates
{
    /// <summary>The server certificate with its private key (the first certificate of the file).</summary>
    public static X509Certificate2 LoadServerCertificate(string certPath, string keyPath)
    {
        using var pem = X509Certificate2.CreateFromPemFile(certPath, keyPath);
        // A PEM key is ephemeral; SslStream wants a persisted-style key on some platforms, which a PKCS#12 round trip gives.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), password: null);
    }

    /// <summary>Certificates after the first one in the server certificate file: its intermediates, sent in the handshake.</summary>
    public static X509Certificate2Collection LoadIntermediates(string certPath)
    {
        var all = LoadAll(certPath);
        var intermediates = new X509Certificate2Collection();
        for (int i = 1; i < all.Count; i++) intermediates.Add(all[i]);
        return intermediates;
    }

    public static X509Certificate2Collection LoadAll(string path)
    {
        var certificates = new X509Certificate2Collection();
        certificates.ImportFromPemFile(path);
        if (certificates.Count == 0) throw new InvalidOperationException($"No PEM certificate found in {path}.");
        return certificates;
    }
}
