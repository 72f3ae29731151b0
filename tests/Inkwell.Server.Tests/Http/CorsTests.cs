using System.Net;
using System.Net.Http.Json;
using Inkwell.Server.Hosting;
using Inkwell.Server.Tests.Tgi;

namespace Inkwell.Server.Tests.Http;

/// <summary>
/// --cors-allow-origin as a browser exercises it (the Fetch standard's CORS protocol): a preflight OPTIONS with
/// Origin and Access-Control-Request-*, then the call with Origin; the page may read the answer only when
/// Access-Control-Allow-Origin names its origin.
/// </summary>
public sealed class CorsTests : IAsyncLifetime
{
    private const string Allowed = "https://playground.example";
    private TestServer _cors = null!;
    private TestServer _plain = null!;

    public async Task InitializeAsync()
    {
        // With an API key too: the preflight carries no credentials and must still be answered.
        _cors = await TestServer.StartAsync(new ServerOptions { CorsAllowOrigins = [Allowed, "http://localhost:5173"], ApiKey = "k" });
        _plain = await TestServer.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _cors.DisposeAsync();
        await _plain.DisposeAsync();
    }

    private static HttpRequestMessage Preflight(string path, string origin)
    {
        var request = new HttpRequestMessage(HttpMethod.Options, path);
        request.Headers.Add("Origin", origin);
        request.Headers.Add("Access-Control-Request-Method", "POST");
        request.Headers.Add("Access-Control-Request-Headers", "authorization,content-type");
        return request;
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : null;

    [Theory]
    [InlineData("/generate")]
    [InlineData("/v1/chat/completions")]
    public async Task Preflight_FromAnAllowedOrigin_IsAnswered(string path)
    {
        using var response = await _cors.Client.SendAsync(Preflight(path, Allowed));
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(Allowed, Header(response, "Access-Control-Allow-Origin"));
        Assert.Contains("POST", Header(response, "Access-Control-Allow-Methods"));
        var allowedHeaders = Header(response, "Access-Control-Allow-Headers")!.ToLowerInvariant();
        Assert.Contains("authorization", allowedHeaders);
        Assert.Contains("content-type", allowedHeaders);
    }

    [Fact]
    public async Task Preflight_FromAnotherOrigin_GetsNoPermission()
    {
        using var response = await _cors.Client.SendAsync(Preflight("/generate", "https://evil.example"));
        Assert.Null(Header(response, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task TheCall_FromAnAllowedOrigin_CarriesTheHeaders_EvenWhenRefused()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/generate") { Content = JsonContent.Create(new { inputs = "Hi", parameters = new { max_new_tokens = 2 } }) };
        request.Headers.Add("Origin", Allowed);
        request.Headers.Add("Authorization", "Bearer k");
        using var ok = await _cors.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(Allowed, Header(ok, "Access-Control-Allow-Origin"));
        Assert.Contains("x-generated-tokens", Header(ok, "Access-Control-Expose-Headers")!);

        // A 401 the page can read, so it can tell the user the key is missing.
        var noKey = new HttpRequestMessage(HttpMethod.Get, "/info");
        noKey.Headers.Add("Origin", Allowed);
        using var refused = await _cors.Client.SendAsync(noKey);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal(Allowed, Header(refused, "Access-Control-Allow-Origin"));
    }

    [Fact]
    public async Task WithoutTheOption_NoCorsHeaderIsEverSent()
    {
        using var preflight = await _plain.Client.SendAsync(Preflight("/generate", Allowed));
        Assert.Null(Header(preflight, "Access-Control-Allow-Origin"));
        Assert.NotEqual(HttpStatusCode.NoContent, preflight.StatusCode);

        var request = new HttpRequestMessage(HttpMethod.Get, "/info");
        request.Headers.Add("Origin", Allowed);
        using var info = await _plain.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, info.StatusCode);
        Assert.Null(Header(info, "Access-Control-Allow-Origin"));
    }

    [Theory]
    [InlineData("playground.example")]
    [InlineData("https://playground.example/path")]
    [InlineData("ftp://playground.example")]
    public async Task AnOriginThatIsNotOne_FailsTheStart(string origin)
    {
        var e = await Assert.ThrowsAsync<ArgumentException>(() => TestServer.StartAsync(new ServerOptions { CorsAllowOrigins = [origin] }));
        Assert.Contains("--cors-allow-origin", e.Message);
    }
}
