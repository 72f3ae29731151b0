using System.Net.Http.Json;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Grpc;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Tls;

/// <summary>The real server (engine, both listeners) with TLS from PEM files made at test time.</summary>
public sealed class TlsRealServerTests : IDisposable
{
    private readonly TestCertificates _certificates = new();

    public void Dispose() => _certificates.Dispose();

    [PythonGrpcFact]
    public async Task ServerTls_HttpsAndGrpcOverTls()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0, Tls = _certificates.ServerOnly }, Handler(null));
        Assert.Equal("https", server.Client.BaseAddress!.Scheme);

        using var http = await server.Client.PostAsJsonAsync("/generate", new { inputs = "Once upon a time", parameters = new { max_new_tokens = 10 } });
        http.EnsureSuccessStatusCode();
        string? expected = (await http.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("generated_text").GetString();

        var grpc = await PythonGrpcClient.CallAsync("unary", server.GrpcTarget, "Generate",
            """{"requests": [{"text": "Once upon a time"}], "params": {"stopping": {"max_new_tokens": 10}}}""", environment: TrustingTheCa());
        Assert.Equal("OK", grpc.GetProperty("code").GetString());
        Assert.Equal(expected, grpc.GetProperty("response").GetProperty("responses")[0].GetProperty("text").GetString());

        // Cleartext gRPC to a TLS port gets nowhere.
        var cleartext = await PythonGrpcClient.CallAsync("unary", server.GrpcTarget, "ModelInfo", timeoutSeconds: 10);
        Assert.Equal("UNAVAILABLE", cleartext.GetProperty("code").GetString());
    }

    [PythonGrpcFact]
    public async Task MutualTls_RefusesClientsWithoutACertificate_OnBothPorts()
    {
        await using var server = await TestServer.StartAsync(new ServerOptions { GrpcPort = 0, Tls = _certificates.Mutual }, Handler(_certificates.Client));

        using var health = await server.Client.GetAsync("/health");
        Assert.True(health.IsSuccessStatusCode);
        using (var anonymous = new HttpClient(Handler(null)) { BaseAddress = server.Client.BaseAddress })
        {
            await Assert.ThrowsAsync<HttpRequestException>(() => anonymous.GetAsync("/health"));
        }

        var environment = TrustingTheCa();
        var withoutCertificate = await PythonGrpcClient.CallAsync("unary", server.GrpcTarget, "ModelInfo", environment: environment);
        Assert.Equal("UNAVAILABLE", withoutCertificate.GetProperty("code").GetString());

        environment["FMAAS_CLIENT_CERT"] = _certificates.ClientCertPath;
        environment["FMAAS_CLIENT_KEY"] = _certificates.ClientKeyPath;
        var withCertificate = await PythonGrpcClient.CallAsync("unary", server.GrpcTarget, "Generate",
            """{"requests": [{"text": "Once"}], "params": {"stopping": {"max_new_tokens": 3}}}""", environment: environment);
        Assert.Equal("OK", withCertificate.GetProperty("code").GetString());
        Assert.Equal(3, withCertificate.GetProperty("response").GetProperty("responses")[0].GetProperty("generated_token_count").GetInt32());
    }

    private Dictionary<string, string> TrustingTheCa() => new()
    {
        ["FMAAS_CA_CERT"] = _certificates.CaCertPath,
        ["FMAAS_TLS_NAME"] = "localhost",
    };

    /// <summary>Trusts the test CA only; offers the client certificate when given.</summary>
    private SocketsHttpHandler Handler(X509Certificate2? clientCertificate)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) =>
        {
            if (certificate is null) return false;
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(_certificates.Ca);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(X509CertificateLoader.LoadCertificate(certificate.GetRawCertData()));
        };
        if (clientCertificate is not null) handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        return handler;
    }
}
