using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Inkwell.Server.Gateway;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>HELM's deployment selection (model_deployment_registry.py, get_default_model_deployment_for_model, and
/// the run spec's model / model_deployment check) through the gateway's HTTP API: model only, deployment only,
/// both, mismatched, and every deployment of a model deprecated. Each deployment is a fake OpenAI/TGI replica that
/// names itself, so the answer shows which one served.</summary>
public sealed class GatewayHelmRulesTests : IAsyncLifetime
{
    private readonly Dictionary<string, FakeReplica> _backends = [];
    private GatewayHarness _gateway = null!;

    private const string Metadata = """
        models:
          - name: meta/llama
            deployment_names: [together/llama, hf/llama]
          - name: acme/retired
          - name: acme/solo
        """;

    public async Task InitializeAsync()
    {
        foreach (var name in new[] { "together", "hf", "old1", "old2", "solo" }) _backends[name] = await FakeReplica.StartAsync(name);
        // acme/solo has no model_name: HELM defaults it to the deployment's own name.
        _gateway = await GatewayHarness.StartAsync(Metadata, $"""
            model_deployments:
              - name: together/llama
                model_name: meta/llama
                client_spec: {Spec("together")}
              - name: hf/llama
                model_name: meta/llama
                client_spec: {Spec("hf")}
              - name: old/retired-a
                model_name: acme/retired
                client_spec: {Spec("old1")}
                deprecated: true
              - name: old/retired-b
                model_name: acme/retired
                client_spec: {Spec("old2")}
                deprecated: true
              - name: acme/solo
                client_spec: {Spec("solo")}
            """);
    }

    private string Spec(string backend) => $"{{kind: tgi, url: \"{_backends[backend].Address}\"}}";

    public async Task DisposeAsync()
    {
        await _gateway.DisposeAsync();
        foreach (var backend in _backends.Values) await backend.DisposeAsync();
    }

    private async Task<(HttpResponseMessage Response, JsonNode Json)> ChatAsync(object body, string? header = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions") { Content = JsonContent.Create(body) };
        if (header is not null) request.Headers.Add(GatewayEndpoints.ModelDeploymentField, header);
        var response = await _gateway.Client.SendAsync(request);
        return (response, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    private static readonly object[] Hello = [new { role = "user", content = "Hello" }];

    private static string ServedBy(JsonNode json) => json["choices"]![0]!["message"]!["content"]!.GetValue<string>();

    [Fact]
    public async Task ModelOnlyTakesTheFirstDeploymentWithAWarning()
    {
        var (response, json) = await ChatAsync(new { model = "meta/llama", messages = Hello });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("together", ServedBy(json));
        Assert.Equal("together/llama", response.Headers.GetValues(GatewayEndpoints.DeploymentHeader).Single());
        Assert.Contains("chose 'together/llama'", response.Headers.GetValues(GatewayEndpoints.WarningHeader).Single());
    }

    [Fact]
    public async Task DeploymentOnlyPicksItAndItsModel()
    {
        var (response, json) = await ChatAsync(new { model_deployment = "hf/llama", messages = Hello });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hf", ServedBy(json));
        Assert.False(response.Headers.Contains(GatewayEndpoints.WarningHeader));
        // The upstream gets the model the deployment serves, and no model_deployment field it would not know.
        Assert.Equal("meta/llama", _backends["hf"].LastBody!["model"]!.GetValue<string>());
        Assert.False(_backends["hf"].LastBody!.ContainsKey(GatewayEndpoints.ModelDeploymentField));

        // The same by header, and over the TGI API by path.
        var (byHeader, headerJson) = await ChatAsync(new { messages = Hello }, header: "hf/llama");
        Assert.Equal(HttpStatusCode.OK, byHeader.StatusCode);
        Assert.Equal("hf", ServedBy(headerJson));
        using var tgi = await _gateway.Client.PostAsJsonAsync("/deployments/hf/llama/generate", new { inputs = "Hi" });
        Assert.Equal("hf", JsonNode.Parse(await tgi.Content.ReadAsStringAsync())!["generated_text"]!.GetValue<string>());
    }

    [Fact]
    public async Task ModelAndDeploymentTogetherUseTheDeployment()
    {
        var (response, json) = await ChatAsync(new { model = "meta/llama", model_deployment = "hf/llama", messages = Hello });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("hf", ServedBy(json));

        using var tgi = await _gateway.Client.PostAsJsonAsync("/models/meta/llama/generate", new { inputs = "Hi", model_deployment = "hf/llama" });
        Assert.Equal("hf", JsonNode.Parse(await tgi.Content.ReadAsStringAsync())!["generated_text"]!.GetValue<string>());
        Assert.False(_backends["hf"].LastBody!.ContainsKey(GatewayEndpoints.ModelDeploymentField));
    }

    [Fact]
    public async Task AMismatchedModelAndDeploymentIsRefused()
    {
        var (response, json) = await ChatAsync(new { model = "acme/solo", model_deployment = "hf/llama", messages = Hello });
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Contains("Deployment 'hf/llama' serves model 'meta/llama', not 'acme/solo'", json["error"]!.GetValue<string>());
        Assert.Equal(0, _backends["hf"].Generations);

        var (conflict, conflictJson) = await ChatAsync(new { model_deployment = "hf/llama", messages = Hello }, header: "together/llama");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, conflict.StatusCode);
        Assert.Contains("header says 'together/llama' and the body says 'hf/llama'", conflictJson["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task AllDeploymentsDeprecatedFallsBackToTheFirstWithAWarning()
    {
        var (response, json) = await ChatAsync(new { model = "acme/retired", messages = Hello });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("old1", ServedBy(json));
        Assert.Equal("old/retired-a", response.Headers.GetValues(GatewayEndpoints.DeploymentHeader).Single());
        Assert.Contains("Every deployment of model 'acme/retired' is deprecated", response.Headers.GetValues(GatewayEndpoints.WarningHeader).Single());
    }

    [Fact]
    public async Task ADeploymentWithoutModelNameServesTheModelOfItsName()
    {
        var (response, json) = await ChatAsync(new { model = "acme/solo", messages = Hello });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("solo", ServedBy(json));
        Assert.False(response.Headers.Contains(GatewayEndpoints.WarningHeader)); // named like the model: no guess
    }
}
