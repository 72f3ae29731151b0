using Inkwell.Server.Tls;

namespace Inkwell.Server.Tests.Tls;

public class TlsOptionsTests
{
    [Fact]
    public void NoVariables_MeansNoTls() => Assert.Null(TlsOptions.FromEnvironment(_ => null));

    [Fact]
    public void ReadsAllThreeVariables()
    {
        var env = new Dictionary<string, string>
        {
            ["TLS_CERT_PATH"] = "/c.pem", ["TLS_KEY_PATH"] = "/k.pem", ["TLS_CLIENT_CA_CERT_PATH"] = "/ca.pem",
        };
        var options = TlsOptions.FromEnvironment(env.GetValueOrDefault);

        Assert.Equal(new TlsOptions { CertPath = "/c.pem", KeyPath = "/k.pem", ClientCaCertPath = "/ca.pem" }, options);
        Assert.True(options!.RequiresClientCertificate);
    }

    [Theory]
    [InlineData("TLS_CERT_PATH")]
    [InlineData("TLS_KEY_PATH")]
    [InlineData("TLS_CLIENT_CA_CERT_PATH")]
    public void HalfConfigured_IsAnError(string onlyVariable) =>
        Assert.Throws<InvalidOperationException>(() => TlsOptions.FromEnvironment(name => name == onlyVariable ? "/x.pem" : null));
}
