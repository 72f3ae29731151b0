using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Grpc.Core;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Tests.Grpc;

namespace Inkwell.Server.Tests.Tls;

/// <summary>Kestrel with certificates from PEM files: HTTPS, gRPC over TLS, and mutual TLS against a client CA.</summary>
public sealed class TlsEndToEndTests : IDisposable
{
    private readonly TestCertificates _certificates = new();
    private readonly FakeGenerationBackend _backend = new();

    public void Dispose() => _certificates.Dispose();

    [Fact]
    public async Task Https_AndGrpcOverTls_Work()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.ServerOnly);
        using var http = new HttpClient(Handler(clientCertificate: null)) { BaseAddress = server.BaseAddress };

        using var ping = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/ping") { Version = HttpVersion.Version11 });
        Assert.Equal(HttpVersion.Version11, ping.Version);
        Assert.Equal("pong", await ping.Content.ReadAsStringAsync());

        var (channel, client) = server.Connect(Handler(clientCertificate: null));
        using (channel)
        {
            Assert.Equal(2048u, (await client.ModelInfoAsync(new ModelInfoRequest())).MaxSequenceLength);
        }
    }

    [Fact]
    public async Task GrpcOverHttp11_IsRefusedWithUpgradeRequired()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.ServerOnly);
        using var http = new HttpClient(Handler(clientCertificate: null)) { BaseAddress = server.BaseAddress };
        var request = new HttpRequestMessage(HttpMethod.Post, "/fmaas.GenerationService/ModelInfo")
        {
            Version = HttpVersion.Version11,
            Content = new ByteArrayContent([0, 0, 0, 0, 0]),
        };
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/grpc");

        using var response = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.UpgradeRequired, response.StatusCode);
    }

    [Fact]
    public async Task MutualTls_AcceptsClientCertificateFromTheCa()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.Mutual);
        var (channel, client) = server.Connect(Handler(_certificates.Client));
        using (channel)
        {
            Assert.Equal(1024u, (await client.ModelInfoAsync(new ModelInfoRequest())).MaxNewTokens);
        }
    }

    [Fact]
    public async Task MutualTls_RefusesClientWithoutCertificate()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.Mutual);
        var (channel, client) = server.Connect(Handler(clientCertificate: null));
        using (channel)
        {
            await AssertRefusedAsync(client);
        }
    }

    [Fact]
    public async Task MutualTls_RefusesClientCertificateFromAnotherCa()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.Mutual);
        var (channel, client) = server.Connect(Handler(_certificates.ForeignClient));
        using (channel)
        {
            await AssertRefusedAsync(client);
        }
    }

    [PythonGrpcFact]
    public async Task MutualTls_WithPythonGrpcio()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.Mutual);
        var environment = new Dictionary<string, string>
        {
            ["FMAAS_CA_CERT"] = _certificates.CaCertPath,
            ["FMAAS_TLS_NAME"] = "localhost",
        };

        var withoutCertificate = await PythonGrpcClient.CallAsync("unary", server.Target, "ModelInfo", environment: environment);
        Assert.Equal("UNAVAILABLE", withoutCertificate.GetProperty("code").GetString());

        environment["FMAAS_CLIENT_CERT"] = _certificates.ClientCertPath;
        environment["FMAAS_CLIENT_KEY"] = _certificates.ClientKeyPath;
        var withCertificate = await PythonGrpcClient.CallAsync("unary", server.Target, "ModelInfo", environment: environment);
        Assert.Equal("OK", withCertificate.GetProperty("code").GetString());
        Assert.Equal(2048, withCertificate.GetProperty("response").GetProperty("max_sequence_length").GetInt32());

        // A gzip-compressed request and a health check over the same mutual TLS.
        environment["FMAAS_COMPRESSION"] = "gzip";
        var tokenized = await PythonGrpcClient.CallAsync("unary", server.Target, "Tokenize", """{"requests": [{"text": "a bc"}]}""", environment: environment);
        Assert.Equal(2, tokenized.GetProperty("response").GetProperty("responses")[0].GetProperty("token_count").GetInt32());
        var health = await PythonGrpcClient.CallAsync("unary", server.Target, "Health", environment: environment);
        Assert.Equal("SERVING", health.GetProperty("response").GetProperty("status").GetString());
    }

    /// <summary>
    /// With TLS 1.3 the server judges the client certificate after the client's handshake ends, so the refusal reaches
    /// Grpc.Net.Client either while sending (UNAVAILABLE) or while reading the answer (INTERNAL); never an answer.
    /// </summary>
    private static async Task AssertRefusedAsync(Inkwell.Server.Grpc.Fmaas.GenerationService.GenerationServiceClient client)
    {
        var error = await Assert.ThrowsAsync<RpcException>(() => client.ModelInfoAsync(new ModelInfoRequest()).ResponseAsync);
        Assert.Contains(error.StatusCode, new[] { StatusCode.Unavailable, StatusCode.Internal });
    }

    /// <summary>Trusts the test CA only, and offers the given client certificate whatever CAs the server names.</summary>
    private SocketsHttpHandler Handler(X509Certificate2? clientCertificate)
    {
        var handler = new SocketsHttpHandler();
        handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, _) => IssuedByTestCa(certificate);
        if (clientCertificate is not null)
        {
            handler.SslOptions.LocalCertificateSelectionCallback = (_, _, _, _, _) => clientCertificate;
        }
        return handler;
    }

    private bool IssuedByTestCa(X509Certificate? certificate)
    {
        if (certificate is null) return false;
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(_certificates.Ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        return chain.Build(new X509Certificate2(certificate));
    }
}
