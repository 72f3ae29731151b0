using Inkwell.Client.OpenAI;
using Inkwell.Client.Registry;
using Inkwell.Client.Tgi;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.Gateway;

/// <summary>Where a request goes: the resolved deployment and, for remote ones, its replicas and the clients that
/// reach them through the replica set (kind tgi: TGI and OpenAI clients; openai: the OpenAI client; tgis: none,
/// gRPC is the host's). A Local route has neither: the host serves it in-process, which this library cannot see.</summary>
public sealed record GatewayRoute(Resolution Resolution, ReplicaSet? Replicas, TgiClient? Tgi, OpenAIClient? OpenAI)
{
    public ModelDeployment Deployment => Resolution.Deployment;

    public bool IsLocal => Deployment.ClientSpec.Kind == ClientKind.Local;
}

/// <summary>Routes requests by model and deployment name through the registry (HELM's rules, ModelRegistry.Resolve)
/// to each remote deployment's replica set, made when the gateway is, so probing and discovery start at once.
/// Thread-safe; disposing stops the probes.</summary>
public sealed class InferenceGateway : IDisposable
{
    private readonly Dictionary<string, RemoteClients> _remote = new(StringComparer.Ordinal);

    /// <param name="clientOptions">Resilience of the TGI / OpenAI clients a route carries (BaseAddress is replaced
    /// by the deployment's); defaults when null. Replica choice and retries across replicas are the replica set's.</param>
    /// <param name="replicaOptions">Probing, ejection and retries across replicas; defaults when null.</param>
    public InferenceGateway(ModelRegistry registry, InferenceClientOptions? clientOptions = null, ReplicaSetOptions? replicaOptions = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        Registry = registry;
        try
        {
            foreach (var deployment in registry.Deployments.Where(d => d.ClientSpec.Kind != ClientKind.Local))
                _remote[deployment.Name] = CreateClients(deployment, clientOptions, replicaOptions);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public ModelRegistry Registry { get; }

    /// <summary>The replica set of every remote deployment, by deployment name (discovery fills service ones).</summary>
    public IEnumerable<ReplicaSet> ReplicaSets => _remote.Values.Select(r => r.Replicas);

    public ReplicaSet? ReplicasOf(string deploymentName) => _remote.GetValueOrDefault(deploymentName)?.Replicas;

    /// <summary>Resolves the deployment by HELM's rules (either name may be left out, not both) and its route.</summary>
    /// <exception cref="ModelResolutionException">The model / deployment cannot be resolved.</exception>
    public GatewayRoute Route(string? modelName, string? deploymentName = null)
    {
        var resolution = Registry.Resolve(modelName, deploymentName);
        return _remote.TryGetValue(resolution.Deployment.Name, out var remote)
            ? new GatewayRoute(resolution, remote.Replicas, remote.Tgi, remote.OpenAI)
            : new GatewayRoute(resolution, null, null, null);
    }

    /// <summary>An IChatClient for a remote HTTP model; its requests are spread over the deployment's replicas.</summary>
    public IChatClient GetChatClient(string modelName, string? deploymentName = null)
    {
        var route = Route(modelName, deploymentName);
        return route.OpenAI?.AsChatClient(route.Resolution.Model.Name)
            ?? throw new NotSupportedException(route.IsLocal
                ? $"Deployment '{route.Deployment.Name}' is local; the host must serve its chat requests in-process."
                : $"Deployment '{route.Deployment.Name}' speaks TGIS gRPC only; it has no chat API.");
    }

    private static RemoteClients CreateClients(ModelDeployment deployment, InferenceClientOptions? template, ReplicaSetOptions? replicaOptions)
    {
        var spec = deployment.ClientSpec;
        var replicas = new ReplicaSet(deployment.Name, spec.Routing, spec.Urls, replicaOptions);
        // The clients' base only names the deployment in their messages; the handler sends to the replica it picks.
        var clientBase = spec.Service is { } service ? new Uri($"http://{service.DnsName}:{service.Port}/") : spec.Urls[0];
        var options = template is null ? new InferenceClientOptions { BaseAddress = clientBase } : template with { BaseAddress = clientBase };
        return spec.Kind switch
        {
            ClientKind.Tgi => new RemoteClients(replicas, new TgiClient(options, replicas.CreateHandler(clientBase)), new OpenAIClient(options, replicas.CreateHandler(clientBase))),
            ClientKind.OpenAI => new RemoteClients(replicas, null, new OpenAIClient(options, replicas.CreateHandler(clientBase))),
            _ => new RemoteClients(replicas, null, null),
        };
    }

    public void Dispose()
    {
        foreach (var route in _remote.Values)
        {
            route.Tgi?.Dispose();
            route.OpenAI?.Dispose();
            route.Replicas.Dispose();
        }
    }

    private sealed record RemoteClients(ReplicaSet Replicas, TgiClient? Tgi, OpenAIClient? OpenAI);
}
