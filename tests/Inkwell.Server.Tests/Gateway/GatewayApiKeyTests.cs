using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>The gateway's --api-key: its routes want the key; its local deployments (loopback) do not.</summary>
public sealed class GatewayApiKeyTests : IAsyncLifetime
{
    private GatewayHarness _gateway = null!;

    public async Task InitializeAsync() => _gateway = await GatewayHarness.StartAsync("""
        models:
          - name: stories/alpha
        """, $"""
        model_deployments:
          - name: local/alpha
            model_name: stories/alpha
            client_spec: {"{"}kind: local, model_path: "{GatewayHarness.EmbeddedModel}"{"}"}
        """, apiKey: "gw-key");

    public async Task DisposeAsync() => await _gateway.DisposeAsync();

    private async Task<HttpResponseMessage> GenerateAsync(string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/models/stories/alpha/generate")
        {
            Content = JsonContent.Create(new { inputs = "Once upon a time", parameters = new { max_new_tokens = 3 } }),
        };
        if (key is not null) request.Headers.Add("Authorization", "Bearer " + key);
        return await _gateway.Client.SendAsync(request);
    }

    [Fact]
    public async Task WithoutTheKey_401InTgisShape_WithIt_TheLocalDeploymentAnswers()
    {
        using var refused = await GenerateAsync(null);
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("unauthorized", JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement.GetProperty("error_type").GetString());
        using var wrong = await GenerateAsync("nope");
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);

        using var answered = await GenerateAsync("gw-key");
        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await _gateway.Client.GetAsync("/v1/models")).StatusCode);
    }
}
