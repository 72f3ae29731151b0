using Inkwell.Client.Gateway;
using Inkwell.Client.Registry;
using Inkwell.Client.Tests.Fakes;
using Inkwell.Client.Tests.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.Tests.Gateway;

public class InferenceGatewayTests
{
    [Fact]
    public void RoutesEachKindToItsReplicasAndClientsAndReusesThem()
    {
        using var gateway = new InferenceGateway(RegistryFixtures.LoadValid());

        var tgi = gateway.Route("meta/llama-2-7b");
        Assert.False(tgi.IsLocal);
        Assert.NotNull(tgi.Tgi);
        Assert.NotNull(tgi.OpenAI);
        Assert.Equal(new Uri("http://gpu-box:8080/"), tgi.Tgi!.Options.BaseAddress);
        Assert.Same(tgi.Tgi, gateway.Route("meta/llama-2-7b").Tgi);

        var openAI = gateway.Route("karpathy/stories260k", "tgi/stories260k");
        Assert.Null(openAI.Tgi);
        Assert.Equal(new Uri("http://stories:8080/"), openAI.OpenAI!.Options.BaseAddress);

        var local = gateway.Route("karpathy/stories260k");
        Assert.True(local.IsLocal);
        Assert.Equal("local/stories260k", local.Deployment.Name);
        Assert.NotNull(local.Resolution.Warning);
        Assert.Null(local.Tgi);

        var grpc = gateway.Route("acme/retired", "old/retired");
        Assert.Null(grpc.Tgi);
        Assert.Null(grpc.OpenAI);
        Assert.Equal(new Uri("http://retired:8033/"), Assert.Single(grpc.Replicas!.Replicas).BaseAddress);
        Assert.Throws<ModelResolutionException>(() => gateway.Route("acme/nope"));
    }

    [Fact]
    public async Task ChatClientForAModelReachesItsDeployment()
    {
        var routes = new OpenAI.OpenAIFakeRoutes();
        await using var server = await FakeInferenceServer.StartAsync(routes.Map);
        var registry = ModelRegistry.Load(
            new RegistrySource("m.yaml", "models:\n  - name: acme/tiny\n"),
            new RegistrySource("d.yaml", $"model_deployments:\n  - name: acme/tiny\n    model_name: acme/tiny\n    client_spec: {{kind: tgi, url: '{server.BaseAddress}'}}\n"));
        using var gateway = new InferenceGateway(registry, new InferenceClientOptions { BaseAddress = new Uri("http://ignored/"), MaxAttempts = 1 });

        var chat = gateway.GetChatClient("tiny");
        var response = await chat.GetResponseAsync([new ChatMessage(ChatRole.User, "Hi")]);

        Assert.Equal("Hello!", response.Text);
        Assert.Equal("acme/tiny", routes.Requests.Single().GetProperty("model").GetString());
        Assert.Equal(1, gateway.Route("acme/tiny").Tgi!.Options.MaxAttempts);
    }
}
