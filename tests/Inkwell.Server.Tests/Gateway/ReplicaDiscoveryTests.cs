using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Inkwell.Client.Registry;
using Inkwell.Server.Gateway;
using Inkwell.TestSupport;
using k8s;
using k8s.Models;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>A deployment naming a Kubernetes Service: its replicas come from the Service's EndpointSlices, served by a
/// fake API server speaking the list and watch protocol (JSON list, then one JSON watch event per line).</summary>
public sealed class ReplicaDiscoveryTests : IAsyncLifetime
{
    private readonly List<FakeReplica> _replicas = [];
    private readonly TaskCompletionSource<string> _nextWatchEvent = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private LoopbackHost _api = null!;
    private string? _listQuery;

    public async Task InitializeAsync()
    {
        foreach (var name in new[] { "r0", "r1", "r2" }) _replicas.Add(await FakeReplica.StartAsync(name));
        _api = await LoopbackHost.StartAsync(app => app.MapGet("/apis/discovery.k8s.io/v1/namespaces/llm/endpointslices", async (HttpContext ctx) =>
        {
            ctx.Response.ContentType = "application/json";
            if (ctx.Request.Query["watch"] != "true")
            {
                _listQuery = ctx.Request.QueryString.Value;
                // r0 ready, r1 not ready yet (a pod still starting).
                await ctx.Response.WriteAsync($$"""
                    {"kind":"EndpointSliceList","apiVersion":"discovery.k8s.io/v1","metadata":{"resourceVersion":"7"},
                     "items":[{{Slice("a", _replicas[0], ready: true)}},{{Slice("b", _replicas[1], ready: false)}}]}
                    """);
                return;
            }
            // The watch: r1 becomes ready, r2's slice appears; then the stream stays open.
            await ctx.Response.WriteAsync(await _nextWatchEvent.Task.WaitAsync(TimeSpan.FromSeconds(30)) + "\n");
            await ctx.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, ctx.RequestAborted).ContinueWith(_ => { });
        }));
    }

    public async Task DisposeAsync()
    {
        _nextWatchEvent.TrySetResult("");
        await _api.DisposeAsync();
        foreach (var replica in _replicas) await replica.DisposeAsync();
    }

    /// <summary>A one-endpoint slice for a fake replica (each listens on its own port, so one slice each).</summary>
    private static string Slice(string name, FakeReplica replica, bool ready) => $$$"""
        {"metadata":{"name":"inkwell-{{{name}}}","labels":{"kubernetes.io/service-name":"inkwell"}},"addressType":"IPv4",
         "endpoints":[{"addresses":["127.0.0.1"],"conditions":{"ready":{{{(ready ? "true" : "false")}}}}}],
         "ports":[{"name":"http","port":{{{replica.Address.Port}}},"protocol":"TCP"}]}
        """.ReplaceLineEndings(""); // a watch event is one line

    [Fact]
    public async Task ReadyEndpointsOfTheServiceAreTheReplicasAndWatchEventsUpdateThem()
    {
        var registry = ModelRegistry.Load(new RegistrySource("m.yaml", "models:\n  - name: acme/tiny\n"),
            new RegistrySource("d.yaml", "model_deployments:\n  - name: acme/tiny\n    client_spec: {kind: tgi, service: 'inkwell.llm:3000', routing: round_robin}\n"));
        var options = new GatewayOptions
        {
            Hostname = "127.0.0.1",
            Replicas = GatewayHarness.FastReplicas,
            Discovery = new DiscoveryOptions { Kubernetes = new KubernetesClientConfiguration { Host = _api.BaseAddress.ToString() } },
        };
        await using var gateway = await LoopbackHost.StartAsync(port => GatewayServer.Build(options with { Port = port }, registry));
        using var client = gateway.CreateClient();
        var set = gateway.App.Services.GetRequiredService<GatewayState>().Router.ReplicasOf("acme/tiny")!;

        await WaitUntilAsync(() => set.Replicas.Count == 1, "the listed ready endpoint is the only replica");
        Assert.Equal(_replicas[0].Address, set.Replicas[0].BaseAddress);
        Assert.Contains("labelSelector=kubernetes.io%2Fservice-name%3Dinkwell", _listQuery);
        using (var answer = await client.PostAsJsonAsync("/models/acme/tiny/generate", new { inputs = "x" }))
            Assert.Equal("r0", JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["generated_text"]!.GetValue<string>());

        _nextWatchEvent.SetResult($$"""{"type":"MODIFIED","object":{{Slice("b", _replicas[1], ready: true)}}}""");
        await WaitUntilAsync(() => set.Replicas.Count == 2, "the watch's MODIFIED event adds the now-ready endpoint");
        var served = new HashSet<string>();
        for (int i = 0; i < 4; i++)
        {
            using var answer = await client.PostAsJsonAsync("/models/acme/tiny/generate", new { inputs = "x" });
            served.Add(JsonNode.Parse(await answer.Content.ReadAsStringAsync())!["generated_text"]!.GetValue<string>());
        }
        Assert.Equal(["r0", "r1"], served.Order());
    }

    [Fact]
    public void AnEndpointSliceYieldsItsReadyAddressesOnTheServicePort()
    {
        var slice = new V1EndpointSlice
        {
            AddressType = "IPv6",
            Endpoints =
            [
                new V1Endpoint { Addresses = ["fd00::1"], Conditions = new V1EndpointConditions { Ready = true } },
                new V1Endpoint { Addresses = ["fd00::2"], Conditions = new V1EndpointConditions { Ready = false } },
                new V1Endpoint { Addresses = ["fd00::3"] }, // no condition: Kubernetes says to take it as ready
            ],
            Ports = [new Discoveryv1EndpointPort { Name = "metrics", Port = 9090 }, new Discoveryv1EndpointPort { Name = "http", Port = 3000 }],
        };
        var service = new ServiceReference("inkwell", "llm", 3000, "http");
        Assert.Equal([new Uri("http://[fd00::1]:3000/"), new Uri("http://[fd00::3]:3000/")], ReplicaDiscovery.ReadyEndpoints(slice, service));
        Assert.Empty(ReplicaDiscovery.ReadyEndpoints(slice, service with { Port = 8080 })); // two ports, neither the Service's
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"timed out waiting until {what}");
            await Task.Delay(50);
        }
    }
}
