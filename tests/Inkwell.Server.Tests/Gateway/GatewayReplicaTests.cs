using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Inkwell.Client.Gateway;
using Inkwell.Server.Gateway;

namespace Inkwell.Server.Tests.Gateway;

/// <summary>A deployment with three replicas (fake TGI servers) behind the gateway: balancing, ejection of a dead
/// one, retry before the first byte and never after, re-admission, prefix affinity, and the metrics that show it.</summary>
public sealed class GatewayReplicaTests : IAsyncLifetime
{
    private readonly List<FakeReplica> _replicas = [];

    public async Task InitializeAsync()
    {
        foreach (var name in new[] { "r0", "r1", "r2" }) _replicas.Add(await FakeReplica.StartAsync(name));
    }

    public async Task DisposeAsync()
    {
        foreach (var replica in _replicas) await replica.DisposeAsync();
    }

    /// <summary>
    /// Fast probing, but patient with a replica that is slow to answer: on a loaded box (the whole suite in parallel) a
    /// fake replica's first probes took over a second, two such timeouts ejected it, and balancing and affinity then saw
    /// fewer replicas than they were given. A stopped replica still fails its probes at once (connection refused).
    /// </summary>
    private static readonly ReplicaSetOptions PatientProbes = GatewayHarness.FastReplicas with
    {
        ProbeTimeout = TimeSpan.FromSeconds(30),
        ConnectTimeout = TimeSpan.FromSeconds(30),
    };

    private Task<GatewayHarness> StartGatewayAsync(string routing) => GatewayHarness.StartAsync(
        "models:\n  - name: acme/tiny\n",
        $"""
        model_deployments:
          - name: acme/tiny
            client_spec:
              kind: tgi
              urls: [{string.Join(", ", _replicas.Select(r => $"\"{r.Address}\""))}]
              routing: {routing}
        """, replicas: PatientProbes);

    private static async Task<string> GenerateAsync(GatewayHarness gateway, string inputs = "Once upon a time")
    {
        using var response = await gateway.Client.PostAsJsonAsync("/models/acme/tiny/generate", new { inputs, parameters = new { max_new_tokens = 4 } });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["generated_text"]!.GetValue<string>();
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

    [Fact]
    public async Task RoundRobinBalancesEvenly()
    {
        await using var gateway = await StartGatewayAsync("round_robin");
        var answers = new List<string>();
        for (int i = 0; i < 9; i++) answers.Add(await GenerateAsync(gateway));
        Assert.All(_replicas, r => Assert.Equal(3, r.Generations));
        Assert.Equal(["r0", "r1", "r2"], answers.Distinct().Order());
    }

    [Fact]
    public async Task LeastOutstandingSpreadsConcurrentStreams()
    {
        await using var gateway = await StartGatewayAsync("least_outstanding");
        // Six streams held open at once: each replica gets two.
        var open = new List<HttpResponseMessage>();
        for (int i = 0; i < 6; i++)
        {
            var request = new HttpRequestMessage(HttpMethod.Post, "/models/acme/tiny/generate_stream") { Content = JsonContent.Create(new { inputs = "x" }) };
            open.Add(await gateway.Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead));
        }
        Assert.All(_replicas, r => Assert.Equal(2, r.Generations));
        foreach (var response in open) response.Dispose();
    }

    [Fact]
    public async Task ADeadReplicaIsRetriedAroundThenEjectedAndReadmittedAfterRestart()
    {
        await using var gateway = await StartGatewayAsync("round_robin");
        var dead = _replicas[1];
        await dead.StopAsync();

        // Every request succeeds: an attempt on the dead replica fails before a byte and goes to another.
        for (int i = 0; i < 9; i++) Assert.NotEqual("r1", await GenerateAsync(gateway));
        var set = gateway.State.Router.ReplicasOf("acme/tiny")!;
        var deadReplica = set.Replicas.Single(r => r.BaseAddress == dead.Address);
        await WaitUntilAsync(() => !deadReplica.IsHealthy, "the dead replica is ejected");
        var metrics = await gateway.Client.GetStringAsync("/metrics");
        Assert.Contains($"inkwell_gateway_replica_healthy{{deployment=\"acme/tiny\",replica=\"{dead.Address}\"}} 0", metrics);
        Assert.Contains($"inkwell_gateway_replica_attempts_total{{deployment=\"acme/tiny\",replica=\"{dead.Address}\",outcome=\"failed\"}}", metrics);
        Assert.Contains("inkwell_gateway_requests_total{deployment=\"acme/tiny\",code=\"200\"} 9", metrics);

        // Ejected: no attempts go to it while it is down.
        var failuresBefore = deadReplica.Failures;
        for (int i = 0; i < 6; i++) await GenerateAsync(gateway);
        Assert.Equal(failuresBefore, deadReplica.Failures);

        await dead.RestartAsync();
        await WaitUntilAsync(() => deadReplica.IsHealthy, "the restarted replica passes a probe");
        for (int i = 0; i < 6; i++) await GenerateAsync(gateway);
        Assert.True(dead.Generations >= 1, "the restarted replica serves again");
    }

    [Fact]
    public async Task ARequestDroppedBeforeItsFirstByteIsRetriedOnAnotherReplica()
    {
        await using var gateway = await StartGatewayAsync("round_robin");
        _replicas[0].Behavior = ReplicaBehavior.DropBeforeFirstByte;
        for (int i = 0; i < 3; i++) Assert.NotEqual("r0", await GenerateAsync(gateway));
        Assert.True(_replicas[0].Generations >= 1, "round robin's first turn tried it");
        Assert.Equal(3, _replicas[1].Generations + _replicas[2].Generations); // each request ran once where it was answered
    }

    [Fact]
    public async Task AStreamCutAfterItsFirstEventIsNotRetried()
    {
        await using var gateway = await StartGatewayAsync("round_robin");
        foreach (var replica in _replicas) replica.Behavior = ReplicaBehavior.DropAfterFirstEvent;
        using var response = await gateway.Client.PostAsJsonAsync("/models/acme/tiny/generate_stream", new { inputs = "x" });
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("\"text\":\"r0\"", body); // the first event reached the caller
        Assert.Contains("stopped answering mid-response", body); // then the relay's error event, TGI's shape
        Assert.Equal([1, 0, 0], _replicas.Select(r => r.Generations)); // nobody else ran it a second time
    }

    [Fact]
    public async Task PrefixAffinityKeepsEachSystemPromptOnOneReplica()
    {
        await using var gateway = await StartGatewayAsync("prefix_affinity");
        var prompts = Enumerable.Range(0, 8).Select(i => $"You are assistant {i}. " + new string('x', 600)).ToList();
        var homes = new Dictionary<string, HashSet<string>>();
        foreach (var prompt in prompts)
            for (int user = 0; user < 4; user++)
            {
                // Sequential requests: no replica is ever over its bound, so every user of a prompt meets on its home.
                var answer = await GenerateAsync(gateway, prompt + $" User {user} asks a question.");
                (homes.TryGetValue(prompt, out var set) ? set : homes[prompt] = []).Add(answer);
            }
        Assert.All(homes.Values, replicas => Assert.Single(replicas));
        Assert.True(homes.Values.Select(h => h.Single()).Distinct().Count() >= 2,
            $"eight prompts spread over more than one replica (generations {string.Join(", ", _replicas.Select(r => $"{r.Name} {r.Generations}"))})");
    }

    [Fact]
    public async Task EveryReplicaDownIs503NamingTheDeployment()
    {
        await using var gateway = await StartGatewayAsync("least_outstanding");
        foreach (var replica in _replicas) await replica.StopAsync();
        using var response = await gateway.Client.PostAsJsonAsync("/models/acme/tiny/generate", new { inputs = "x" });
        var json = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("acme/tiny", json["error"]!.GetValue<string>());
        Assert.Equal("acme/tiny", response.Headers.GetValues(GatewayEndpoints.DeploymentHeader).Single());
    }
}
