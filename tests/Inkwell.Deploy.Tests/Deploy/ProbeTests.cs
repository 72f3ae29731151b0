using System.Diagnostics;
using System.Net;
using k8s.Models;
using Inkwell.Models.Loading;
using Inkwell.Server.Gateway;
using Inkwell.Server.Hosting;
using Inkwell.TestSupport;
using Microsoft.Extensions.DependencyInjection;

namespace Inkwell.Deploy.Tests.Deploy;

/// <summary>The manifests' probes, args and metric against the real thing: an in-process `inkwell serve` and gateway
/// answer every probe path on the port the probe names, readiness turns 503 in a drain while liveness stays 200, the
/// autoscaler's metric is one /metrics exports, and every flag the manifests pass is one `inkwell serve` knows.</summary>
public class ProbeTests
{
    public const string QueueDepthMetric = "tgi_queue_size";

    [Fact]
    public async Task ReplicaProbes_AreRoutesServeAnswers_OnTheContainersServingPort()
    {
        var container = Assert.Single(DeployManifests.Replicas.Spec.Template.Spec.Containers);
        using var model = ModelLoader.Load(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf"));
        await using var host = await LoopbackHost.StartAsync(port =>
            InkwellServer.Build(new ServerOptions { Hostname = "127.0.0.1", Port = port, NumThreads = 1 }, model));
        using var client = host.CreateClient();
        var drain = host.App.Services.GetRequiredService<ServerState>().Service.Drain;

        await AssertProbesAsync(container, client, drain.Begin);

        var lines = (await client.GetStringAsync("/metrics")).Split('\n');
        Assert.Contains($"# TYPE {QueueDepthMetric} gauge", lines);
        Assert.Contains(lines, l => l.StartsWith(QueueDepthMetric + " ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GatewayProbes_AreRoutesTheGatewayAnswers_OverTheRegistryConfigMap()
    {
        var container = Assert.Single(DeployManifests.Gateway.Spec.Template.Spec.Containers);
        var registry = ManifestTests.RegistryFromConfigMap();
        await using var host = await LoopbackHost.StartAsync(port => GatewayServer.Build(new GatewayOptions { Hostname = "127.0.0.1", Port = port }, registry));
        using var client = host.CreateClient();
        var drain = host.App.Services.GetRequiredService<RequestDrain>().Drain;

        await AssertProbesAsync(container, client, drain.Begin);
    }

    [Fact]
    public void EveryFlagTheManifestsPass_IsOneInkwellServeKnows()
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "inkwell.dll"), "serve", "--help" }) psi.ArgumentList.Add(arg);
        using var process = Process.Start(psi)!;
        var help = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000));
        Assert.Equal(0, process.ExitCode);
        foreach (var deployment in DeployManifests.Of<V1Deployment>())
        {
            var container = Assert.Single(deployment.Spec.Template.Spec.Containers);
            Assert.Null(container.Command); // the image's ENTRYPOINT runs (DockerfileTests)
            Assert.Equal("serve", container.Args[0]);
            foreach (var flag in container.Args.Where(a => a.StartsWith("--", StringComparison.Ordinal)))
                Assert.True(help.Contains($"[{flag} ", StringComparison.Ordinal) || help.Contains($"[{flag}]", StringComparison.Ordinal),
                    $"{deployment.Metadata.Name} passes {flag}, which `inkwell serve --help` does not list");
        }
    }

    /// <summary>Each probe's port is the one serve listens on (--port); every probe path answers 200; once draining,
    /// readiness answers 503 and liveness still 200.</summary>
    private static async Task AssertProbesAsync(V1Container container, HttpClient client, Action beginDrain)
    {
        int servingPort = int.Parse(DeployManifests.Flag(container, "--port") ?? new ServerOptions().Port.ToString());
        var probes = new[] { ("startup", container.StartupProbe), ("readiness", container.ReadinessProbe), ("liveness", container.LivenessProbe) };
        foreach (var (kind, probe) in probes)
        {
            Assert.True(probe?.HttpGet is not null, $"{container.Name} has no HTTP {kind} probe");
            Assert.Equal(servingPort, DeployManifests.ContainerPort(container, probe.HttpGet.Port.Value));
            using var response = await client.GetAsync(probe.HttpGet.Path);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{container.Name} {kind} probe {probe.HttpGet.Path}: {(int)response.StatusCode}");
        }

        beginDrain();
        using var readiness = await client.GetAsync(container.ReadinessProbe.HttpGet.Path);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, readiness.StatusCode);
        using var liveness = await client.GetAsync(container.LivenessProbe.HttpGet.Path);
        Assert.Equal(HttpStatusCode.OK, liveness.StatusCode);
    }
}
