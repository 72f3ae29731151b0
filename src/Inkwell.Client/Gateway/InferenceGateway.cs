using System.Collections.Concurrent;
using Inkwell.Client.OpenAI;
using Inkwell.Client.Registry;
using Inkwell.Client.Tgi;
using Microsoft.Extensions.AI;

namespace Inkwell.Client.Gateway;

/// <summary>Where a request goes: the resolved deployment and, for remote ones, the clients that reach it.
/// A Local route has no client: the host serves it in-process (the engine), which this library cannot see.</summary>
public sealed record GatewayRoute(Resolution Resolution, TgiClient? Tgi, OpenAIClient? OpenAI)
{
    public ModelDeployment Deployment => Resolution.Deployment;

    public bool IsLocal => Deployment.ClientSpec.Kind == ClientKind.Local;
}

/// <summary>Routes requests by model name through the registry to one client per deployment, created on
/// first use and reused (each client pools its connections). Thread-safe.</summary>
public sealed class InferenceGateway : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<TgiClient>> _tgi = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Lazy<OpenAIClient>> _openAI = new(StringComparer.Ordinal);
    private readonly InferenceClientOptions? _template;

    /// <param name="clientOptions">Resilience settings for every remote deployment; BaseAddress is replaced by
    /// each deployment's url. Defaults when null.</param>
    public InferenceGateway(ModelRegistry registry, InferenceClientOptions? clientOptions = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        Registry = registry;
        _template = clientOptions;
    }

    public ModelRegistry Registry { get; }

    /// <summary>Resolves the deployment (see ModelRegistry.Resolve) and its clients: kind tgi gets both the TGI
    /// and the OpenAI client (TGI serves both APIs), kind openai the OpenAI client, kind local none.</summary>
    /// <exception cref="ModelResolutionException">The model / deployment cannot be resolved.</exception>
    /// <exception cref="NotSupportedException">The deployment speaks TGIS gRPC, which this client does not.</exception>
    public GatewayRoute Route(string modelName, string? deploymentName = null)
    {
        var resolution = Registry.Resolve(modelName, deploymentName);
        var deployment = resolution.Deployment;
        var spec = deployment.ClientSpec;
        return spec.Kind switch
        {
            ClientKind.Local => new GatewayRoute(resolution, null, null),
            ClientKind.Tgi => new GatewayRoute(resolution, TgiFor(deployment), OpenAIFor(deployment)),
            ClientKind.OpenAI => new GatewayRoute(resolution, null, OpenAIFor(deployment)),
            _ => throw new NotSupportedException(
                $"Deployment '{deployment.Name}' is {spec.Kind} (gRPC); Inkwell.Client speaks HTTP only (tgi, openai). Route it in the host."),
        };
    }

    /// <summary>An IChatClient for a remote model; the chat requests name the resolved model.</summary>
    public IChatClient GetChatClient(string modelName, string? deploymentName = null)
    {
        var route = Route(modelName, deploymentName);
        return route.OpenAI?.AsChatClient(route.Resolution.Model.Name)
            ?? throw new NotSupportedException($"Deployment '{route.Deployment.Name}' is local; the host must serve its chat requests in-process.");
    }

    private TgiClient TgiFor(ModelDeployment deployment) =>
        _tgi.GetOrAdd(deployment.Name, _ => new Lazy<TgiClient>(() => new TgiClient(OptionsFor(deployment)))).Value;

    private OpenAIClient OpenAIFor(ModelDeployment deployment) =>
        _openAI.GetOrAdd(deployment.Name, _ => new Lazy<OpenAIClient>(() => new OpenAIClient(OptionsFor(deployment)))).Value;

    private InferenceClientOptions OptionsFor(ModelDeployment deployment)
    {
        var url = deployment.ClientSpec.Url!; // validated at load for remote kinds
        return _template is null ? new InferenceClientOptions { BaseAddress = url } : _template with { BaseAddress = url };
    }

    public void Dispose()
    {
        foreach (var client in _tgi.Values.Where(l => l.IsValueCreated)) client.Value.Dispose();
        foreach (var client in _openAI.Values.Where(l => l.IsValueCreated)) client.Value.Dispose();
    }
}
