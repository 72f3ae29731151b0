using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>Local deployments load on first use and the least recently used is unloaded to fit the budget.</summary>
public sealed class GatewayMemoryBudgetTests
{
    private const string Prompt = "Once upon a time";

    private const string Metadata = """
        models:
          - name: stories/alpha
          - name: stories/beta
        """;

    private static string Deployments => $"""
        model_deployments:
          - name: local/alpha
            model_name: stories/alpha
            client_spec: {"{"}kind: local, model_path: "{GatewayHarness.EmbeddedModel}"{"}"}
          - name: local/beta
            model_name: stories/beta
            client_spec: {"{"}kind: local, model_path: "{GatewayHarness.EmbeddedModel}"{"}"}
        """;

    private static async Task<string> GenerateAsync(GatewayHarness gateway, string model)
    {
        var response = await gateway.Client.PostAsJsonAsync($"/models/{model}/generate", new { inputs = Prompt, parameters = new { max_new_tokens = 20 } });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return JsonNode.Parse(await response.Content.ReadAsStringAsync())!["generated_text"]!.GetValue<string>();
    }

    [Fact]
    public async Task UnderATinyBudgetTheSecondLoadEvictsTheFirstAndALaterRequestReloadsIt()
    {
        // One byte: no deployment fits, so each load must first unload every other one.
        await using var gateway = await GatewayHarness.StartAsync(Metadata, Deployments, budgetBytes: 1);
        var golden = GatewayHarness.GoldenGreedy[Prompt.Length..];
        Assert.Empty(gateway.State.LoadedLocalDeployments);

        Assert.StartsWith(await GenerateAsync(gateway, "stories/alpha"), golden);
        Assert.Equal(["local/alpha"], gateway.State.LoadedLocalDeployments);

        Assert.StartsWith(await GenerateAsync(gateway, "stories/beta"), golden);
        Assert.Equal(["local/beta"], gateway.State.LoadedLocalDeployments);
        Assert.Equal(1, gateway.State.LocalEvictionCount);

        Assert.StartsWith(await GenerateAsync(gateway, "stories/alpha"), golden);
        Assert.Equal(["local/alpha"], gateway.State.LoadedLocalDeployments);
        Assert.Equal(3, gateway.State.LocalLoadCount);
        Assert.Equal(2, gateway.State.LocalEvictionCount);
    }

    [Fact]
    public async Task WithoutABudgetBothStayLoadedAndAreReused()
    {
        await using var gateway = await GatewayHarness.StartAsync(Metadata, Deployments);

        await GenerateAsync(gateway, "stories/alpha");
        await GenerateAsync(gateway, "stories/beta");
        await GenerateAsync(gateway, "stories/alpha");

        // Least recently used first.
        Assert.Equal(["local/beta", "local/alpha"], gateway.State.LoadedLocalDeployments);
        Assert.Equal(2, gateway.State.LocalLoadCount);
        Assert.Equal(0, gateway.State.LocalEvictionCount);
    }

    [Fact]
    public async Task AMistypedEngineOptionFailsTheStartNamingIt()
    {
        var deployments = Deployments.Replace("model_path:", "max_totl_tokens: 5, model_path:");

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => GatewayHarness.StartAsync(Metadata, deployments));

        Assert.Contains("'local/alpha'", ex.Message);
        Assert.Contains("max_totl_tokens", ex.Message);
    }
}
