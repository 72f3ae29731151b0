using System.Security.Cryptography.X509Certificates;
using Inkwell.Server.Tls;

namespace Inkwell.Server.Tests.Tls;

public sealed class ClientCertificateValidatorTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public void TrustsOnlyCertificatesIssuedByTheConfiguredCa()
    {
        var validator = new ClientCertificateValidator(PemCertificates.LoadAll(_certificates.CaCertPath));

        Assert.True(validator.IsTrusted(_certificates.Client));
        Assert.False(validator.IsTrusted(_certificates.ForeignClient));
        Assert.False(validator.IsTrusted(_certificates.OtherCa));
    }

    [Fact]
    public void RefusesServerOnlyCertificateForClientAuthentication()
    {
        var validator = new ClientCertificateValidator(new X509Certificate2Collection(_certificates.Ca));
        Assert.False(validator.IsTrusted(_certificates.Server));
    }
}
