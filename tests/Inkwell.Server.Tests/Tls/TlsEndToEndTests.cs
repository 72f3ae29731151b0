using System.Net;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Inkwell.Server.Grpc;
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
        using var client = RawGrpcClient.Create(server.BaseAddress(tls: true), Handler(clientCertificate: null));

        using var ping = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/ping") { Version = HttpVersion.Version11 });
        Assert.Equal(HttpVersion.Version11, ping.Version);
        Assert.Equal("pong", await ping.Content.ReadAsStringAsync());

        var response = await RawGrpcClient.SendAsync(client, RawGrpcClient.Request("ModelInfo", RawGrpcClient.Frame(new ModelInfoRequest())));
        Assert.Equal(HttpVersion.Version20, response.HttpVersion);
        Assert.Equal(GrpcStatusCode.Ok, response.Status);
    }

    [Fact]
    public async Task GrpcOverHttp11_IsRefusedWithUpgradeRequired()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.ServerOnly);
        using var client = RawGrpcClient.Create(server.BaseAddress(tls: true), Handler(clientCertificate: null));
        var request = RawGrpcClient.Request("ModelInfo", RawGrpcClient.Frame(new ModelInfoRequest()));
        request.Version = HttpVersion.Version11;

        var response = await RawGrpcClient.SendAsync(client, request);
        Assert.Equal(HttpStatusCode.UpgradeRequired, response.HttpStatus);
        Assert.Equal(GrpcStatusCode.Internal, response.Status);
    }

    [Fact]
    public async Task MutualTls_AcceptsClientCertificateFromTheCa()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.Mutual);
        using var client = RawGrpcClient.Create(server.BaseAddress(tls: true), Handler(_certificates.Client));

        var response = await RawGrpcClient.SendAsync(client, RawGrpcClient.Request("ModelInfo", RawGrpcClient.Frame(new ModelInfoRequest())));
        Assert.Equal(GrpcStatusCode.Ok, response.Status);
    }

    [Fact]
    public async Task MutualTls_RefusesClientWithoutCertificate()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.Mutual);
        using var client = RawGrpcClient.Create(server.BaseAddress(tls: true), Handler(clientCertificate: null));

        await Assert.ThrowsAsync<HttpRequestException>(() =>
            RawGrpcClient.SendAsync(client, RawGrpcClient.Request("ModelInfo", RawGrpcClient.Frame(new ModelInfoRequest()))));
    }

    [Fact]
    public async Task MutualTls_RefusesClientCertificateFromAnotherCa()
    {
        await using var server = await GrpcTestServer.StartAsync(_backend, _certificates.Mutual);
        using var client = RawGrpcClient.Create(server.BaseAddress(tls: true), Handler(_certificates.ForeignClient));

        await Assert.ThrowsAsync<HttpRequestException>(() =>
            RawGrpcClient.SendAsync(client, RawGrpcClient.Request("ModelInfo", RawGrpcClient.Frame(new ModelInfoRequest()))));
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
