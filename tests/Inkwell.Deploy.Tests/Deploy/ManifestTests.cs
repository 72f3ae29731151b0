using k8s.Models;
using Inkwell.Server.Hosting;
using Inkwell.Client.Registry;

namespace Inkwell.Deploy.Tests.Deploy;

/// <summary>deploy/ as Kubernetes would read it: every object loads strictly, the kustomizations hold together, and
/// the objects agree with each other and with the server (selectors, ports, shutdown timing, the autoscaler's metric).</summary>
public class ManifestTests
{
    [Fact]
    public void EveryManifestLoadsWithKubernetesTypedLoader_InStrictMode()
    {
        Assert.NotEmpty(DeployManifests.ObjectFiles);
        foreach (var file in DeployManifests.ObjectFiles)
            Assert.NotEmpty(DeployManifests.LoadFile(file));
        var kinds = DeployManifests.All.Select(m => m.Object.Kind).ToHashSet();
        foreach (var kind in new[] { "Deployment", "Service", "ConfigMap", "PersistentVolumeClaim", "PodDisruptionBudget", "HorizontalPodAutoscaler" })
            Assert.Contains(kind, kinds);
    }

    [Fact]
    public void TheStrictLoader_RejectsAFieldKubernetesDoesNotKnow()
    {
        // The guard the test above relies on: a misspelt field must fail, not vanish.
        const string misspelt = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\nspec:\n  replica: 2\n";
        Assert.ThrowsAny<Exception>(() => DeployManifests.LoadStrict(misspelt));
    }

    [Fact]
    public void EveryKustomizationResourceExists_AndEveryManifestBelongsToOne()
    {
        var referenced = new HashSet<string>();
        foreach (var kustomization in DeployManifests.KustomizationFiles)
        {
            var folder = Path.GetDirectoryName(kustomization)!;
            foreach (var resource in DeployManifests.ResourcesOf(kustomization))
            {
                var path = Path.GetFullPath(Path.Combine(folder, resource));
                Assert.True(File.Exists(path) || File.Exists(Path.Combine(path, DeployManifests.KustomizationFileName)),
                    $"{Path.GetRelativePath(DeployManifests.Root, kustomization)} lists '{resource}', which does not exist");
                referenced.Add(path);
            }
        }
        foreach (var file in DeployManifests.ObjectFiles)
            Assert.True(referenced.Contains(Path.GetFullPath(file)), $"{Path.GetRelativePath(DeployManifests.Root, file)} is in no kustomization");
    }

    [Fact]
    public void ServicesAndDisruptionBudgets_SelectThePods_AndTargetPortsTheContainersHave()
    {
        var deployments = DeployManifests.Of<V1Deployment>().ToList();
        foreach (var service in DeployManifests.Of<V1Service>())
        {
            var target = Assert.Single(deployments, d => Selects(service.Spec.Selector, d));
            var container = Assert.Single(target.Spec.Template.Spec.Containers);
            foreach (var port in service.Spec.Ports)
                Assert.Contains(DeployManifests.ContainerPort(container, port.TargetPort.Value), container.Ports.Select(p => p.ContainerPort));
        }
        Assert.Equal("None", DeployManifests.Named<V1Service>("inkwell-replicas").Spec.ClusterIP);
        foreach (var budget in DeployManifests.Of<V1PodDisruptionBudget>())
            Assert.Single(deployments, d => Selects(budget.Spec.Selector.MatchLabels, d));
        foreach (var deployment in deployments)
            Assert.True(Selects(deployment.Spec.Selector.MatchLabels, deployment), $"{deployment.Metadata.Name}'s selector misses its own pods");
    }

    [Fact]
    public void TerminationGrace_CoversPreStop_TheDrainGracePeriod_AndTheHostsFinalAllowance()
    {
        foreach (var deployment in new[] { DeployManifests.Replicas, DeployManifests.Gateway })
        {
            var pod = deployment.Spec.Template.Spec;
            var container = Assert.Single(pod.Containers);
            // The manifests say the grace period out loud, and it is the server's own default (Kubernetes' 30 s).
            var grace = TimeSpan.FromSeconds(double.Parse(DeployManifests.Flag(container, "--shutdown-grace-period")!));
            Assert.Equal(new ServerOptions().ShutdownGracePeriod, grace);
            var preStop = TimeSpan.FromSeconds(container.Lifecycle.PreStop.Sleep.Seconds);
            Assert.InRange(preStop, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(15));
            var needed = preStop + GracefulDrain.HostShutdownTimeout(grace);
            Assert.True(pod.TerminationGracePeriodSeconds >= needed.TotalSeconds,
                $"{deployment.Metadata.Name}: terminationGracePeriodSeconds {pod.TerminationGracePeriodSeconds} < preStop {preStop.TotalSeconds} + drain and host {GracefulDrain.HostShutdownTimeout(grace).TotalSeconds}");
        }
    }

    [Fact]
    public void Replicas_TakeTheModelFromModelName_TheTokenFromASecret_AndKeepTheHubCacheOnTheVolume()
    {
        var pod = DeployManifests.Replicas.Spec.Template.Spec;
        var container = Assert.Single(pod.Containers);
        var env = container.Env.ToDictionary(e => e.Name);
        Assert.False(string.IsNullOrEmpty(env["MODEL_NAME"].Value));
        Assert.Null(DeployManifests.Flag(container, "--model-id")); // a flag would silently win over MODEL_NAME
        var token = env["HF_TOKEN"].ValueFrom.SecretKeyRef;
        Assert.Equal("HF_TOKEN", token.Key);
        var cacheMount = Assert.Single(container.VolumeMounts, m => m.MountPath == env["HF_HOME"].Value);
        var cacheVolume = Assert.Single(pod.Volumes, v => v.Name == cacheMount.Name);
        Assert.Contains(DeployManifests.Of<V1PersistentVolumeClaim>(), c => c.Metadata.Name == cacheVolume.PersistentVolumeClaim.ClaimName);
        // Kubernetes sets HOSTNAME to the pod's name; serve reads HOSTNAME, so the manifests must name the address.
        Assert.Equal("0.0.0.0", DeployManifests.Flag(container, "--hostname"));
        Assert.Equal("0.0.0.0", DeployManifests.Flag(Assert.Single(DeployManifests.Gateway.Spec.Template.Spec.Containers), "--hostname"));
    }

    [Fact]
    public void Resources_RequestWhatTheLimitsAllow_AndTheCpuTheAutoscalerMeasures()
    {
        foreach (var deployment in DeployManifests.Of<V1Deployment>())
        {
            var resources = Assert.Single(deployment.Spec.Template.Spec.Containers).Resources;
            Assert.True(resources.Requests["memory"].ToDecimal() <= resources.Limits["memory"].ToDecimal(), deployment.Metadata.Name);
            Assert.True(resources.Requests.ContainsKey("cpu"), $"{deployment.Metadata.Name}: a CPU HPA needs a CPU request");
        }
    }

    [Fact]
    public void EveryAutoscaler_ScalesTheReplicas_OnQueueDepthThroughTheAdapterRule_OrOnCpu()
    {
        var autoscalers = DeployManifests.Of<V2HorizontalPodAutoscaler>().ToList();
        Assert.Equal(2, autoscalers.Count);
        foreach (var hpa in autoscalers)
        {
            Assert.Equal(("Deployment", DeployManifests.Replicas.Metadata.Name), (hpa.Spec.ScaleTargetRef.Kind, hpa.Spec.ScaleTargetRef.Name));
            Assert.True(hpa.Spec.MinReplicas >= 2, "one replica left cannot drain without an outage");
        }
        Assert.Single(autoscalers, h => h.Spec.Metrics.Single().Resource?.Name == "cpu");
        var queue = Assert.Single(autoscalers, h => h.Spec.Metrics.Single().Pods is not null).Spec.Metrics.Single().Pods.Metric.Name;
        // The adapter's rule exposes exactly that name from the series the replicas export (checked against /metrics in ProbeTests).
        var rules = AdapterRules();
        var rule = Assert.Single(rules, r => r.ExposedAs == queue);
        Assert.StartsWith(ProbeTests.QueueDepthMetric + "{", rule.SeriesQuery);
        Assert.Equal(ProbeTests.QueueDepthMetric, queue);
    }

    [Fact]
    public void GatewayRegistryConfigMap_LoadsAsARegistry_WhoseDeploymentsAreServicesOfDeploy()
    {
        var registry = RegistryFromConfigMap();
        Assert.NotEmpty(registry.Deployments);
        foreach (var deployment in registry.Deployments)
        {
            // Replicas are discovered one by one (prefix affinity needs each pod), so the Service must be headless
            // and in the namespace the kustomization puts everything in.
            var reference = Assert.IsType<ServiceReference>(deployment.ClientSpec.Service);
            var service = DeployManifests.Named<V1Service>(reference.Name);
            Assert.Equal("None", service.Spec.ClusterIP);
            Assert.Contains(reference.Port, service.Spec.Ports.Select(p => p.Port));
            Assert.Contains($"namespace: {reference.Namespace}", File.ReadAllText(Path.Combine(DeployManifests.Root, "base", "kustomization.yaml")));
        }
        var mount = Assert.Single(Assert.Single(DeployManifests.Gateway.Spec.Template.Spec.Containers).VolumeMounts, m => m.Name == "registry");
        Assert.Equal(mount.MountPath, DeployManifests.Flag(DeployManifests.Gateway.Spec.Template.Spec.Containers[0], "--registry"));
    }

    /// <summary>The registry ConfigMap's files written to a folder and loaded as the gateway loads them.</summary>
    internal static ModelRegistry RegistryFromConfigMap()
    {
        var map = DeployManifests.Named<V1ConfigMap>("inkwell-registry");
        var dir = Directory.CreateTempSubdirectory("inkwell-deploy-registry-");
        try
        {
            foreach (var (name, text) in map.Data) File.WriteAllText(Path.Combine(dir.FullName, name), text);
            return ModelRegistry.LoadFromDirectory(dir.FullName);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    private sealed record AdapterRule(string SeriesQuery, string ExposedAs);

    /// <summary>prometheus-adapter's rules from its ConfigMap's config.yaml (the adapter's own format).</summary>
    private static List<AdapterRule> AdapterRules()
    {
        var map = DeployManifests.Named<V1ConfigMap>("prometheus-adapter");
        var stream = new YamlDotNet.RepresentationModel.YamlStream();
        stream.Load(new StringReader(map.Data["config.yaml"]));
        var root = (YamlDotNet.RepresentationModel.YamlMappingNode)stream.Documents[0].RootNode;
        return [.. ((YamlDotNet.RepresentationModel.YamlSequenceNode)root["rules"]).Children
            .Cast<YamlDotNet.RepresentationModel.YamlMappingNode>()
            .Select(r => new AdapterRule(r["seriesQuery"].ToString(), ((YamlDotNet.RepresentationModel.YamlMappingNode)r["name"])["as"].ToString()))];
    }

    private static bool Selects(IDictionary<string, string> selector, V1Deployment deployment) =>
        selector.All(label => deployment.Spec.Template.Metadata.Labels.TryGetValue(label.Key, out var value) && value == label.Value);
}
