namespace Inkwell.Client.Registry;

/// <summary>Who may use a model's weights.</summary>
public enum ModelAccess { Open, Limited, Closed }

/// <summary>How a deployment is reached: in-process engine, or a remote server speaking a protocol.</summary>
public enum ClientKind { Local, Tgi, Tgis, OpenAI }

/// <summary>What a model is (model_metadata.yaml): facts about the model, independent of where it runs.</summary>
/// <param name="Name">"creator/engine", e.g. "meta/llama-2-7b".</param>
/// <param name="DeploymentNames">Preferred deployments, in order of preference.</param>
public sealed record ModelMetadata(
    string Name,
    string DisplayName,
    string? Description,
    string? CreatorOrganization,
    ModelAccess Access,
    DateOnly? ReleaseDate,
    IReadOnlyList<string> Tags,
    long? NumParameters,
    IReadOnlyList<string> DeploymentNames);

/// <summary>How to call a deployment. For Local, ModelPath (made absolute against the registry directory) and
/// EngineOptions (threads, max_total_tokens, ...) as written; for remote kinds, its replicas: Urls (one or more,
/// `url` or `urls`) or a Kubernetes Service whose endpoints are discovered, and how requests are spread over them.</summary>
public sealed record ClientSpec(
    ClientKind Kind,
    string? ModelPath,
    IReadOnlyList<Uri> Urls,
    ServiceReference? Service,
    RoutingOptions Routing,
    IReadOnlyDictionary<string, string> EngineOptions)
{
    /// <summary>An integer engine option, or null when absent; throws naming the option when it is not an integer.</summary>
    public int? GetIntOption(string name)
    {
        if (!EngineOptions.TryGetValue(name, out var text)) return null;
        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"Engine option '{name}' must be an integer, got '{text}'.");
    }

    /// <summary>Where the deployment is, for messages: the model path, the urls, or the service.</summary>
    public string Target => Kind == ClientKind.Local ? ModelPath! : Service?.ToString() ?? string.Join(", ", Urls);
}

/// <summary>A Kubernetes Service whose ready endpoints are a deployment's replicas (`service: name.namespace:port`,
/// namespace "default" and port 80 when left out). Scheme is how the replicas are called (http, or grpc for tgis).</summary>
public sealed record ServiceReference(string Name, string Namespace, int Port, string Scheme)
{
    /// <summary>The cluster DNS name; for a headless Service it resolves to every ready pod.</summary>
    public string DnsName => $"{Name}.{Namespace}.svc.cluster.local";

    public override string ToString() => $"service {Name}.{Namespace}:{Port}";
}

/// <summary>How a deployment picks a replica for a request.</summary>
public enum RoutingPolicy
{
    /// <summary>The replica with the fewest requests in flight (ties: the one after the last pick).</summary>
    LeastOutstanding,

    /// <summary>Consistent hashing of the prompt's leading text with bounded load, so prompts sharing a system
    /// prompt land where its KV blocks are cached; a replica over its bound spills to the least loaded one.</summary>
    PrefixAffinity,

    /// <summary>Each replica in turn; the baseline the others are measured against.</summary>
    RoundRobin,
}

/// <param name="PrefixChars">How many leading characters of the prompt (or the chat's leading messages) are hashed.</param>
/// <param name="LoadFactor">Mirrokni et al.'s c: a replica takes at most ceil(c * average load) requests before spilling.</param>
public sealed record RoutingOptions(RoutingPolicy Policy = RoutingPolicy.LeastOutstanding, int PrefixChars = 512, double LoadFactor = 1.25);

/// <summary>Where a model runs (model_deployments.yaml).</summary>
/// <param name="Name">"host/engine", e.g. "local/llama-2-7b".</param>
/// <param name="ModelName">The ModelMetadata.Name this deployment serves; the deployment's own name when the file leaves it out (as HELM).</param>
public sealed record ModelDeployment(
    string Name,
    string ModelName,
    ClientSpec ClientSpec,
    string? TokenizerName,
    int? MaxSequenceLength,
    int? MaxRequestLength,
    int? MaxSequenceAndGeneratedTokensLength,
    bool Deprecated);

/// <summary>A tokenizer (tokenizer_configs.yaml): its spec (kind, path, ...) and the special tokens callers need.</summary>
public sealed record TokenizerConfig(
    string Name,
    IReadOnlyDictionary<string, string> TokenizerSpec,
    string? EndOfTextToken,
    string? PrefixToken);

/// <summary>The deployment chosen for a request, and a warning when the choice was not explicit or not ideal.</summary>
public sealed record Resolution(ModelMetadata Model, ModelDeployment Deployment, string? Warning);

/// <summary>A registry file is missing, malformed or refers to something that does not exist.</summary>
public sealed class RegistryLoadException(string message, string filePath, string? entryName = null, int? line = null, Exception? inner = null)
    : Exception(message, inner)
{
    public string FilePath { get; } = filePath;

    /// <summary>The name (or "entry #n") of the offending entry, when one is to blame.</summary>
    public string? EntryName { get; } = entryName;

    /// <summary>1-based line in FilePath, when the YAML parser knows it.</summary>
    public int? Line { get; } = line;
}

/// <summary>Why a model / deployment request cannot be resolved.</summary>
public enum ResolutionFailure
{
    /// <summary>No such model or deployment.</summary>
    Unknown,

    /// <summary>A suffix that matches several names.</summary>
    Ambiguous,

    /// <summary>The deployment asked for serves another model.</summary>
    Mismatch,

    /// <summary>Neither a model nor a deployment was named.</summary>
    Unnamed,

    /// <summary>The model has no deployment at all.</summary>
    Undeployed,
}

/// <summary>A model / deployment request cannot be served as asked.</summary>
public sealed class ModelResolutionException(string message, ResolutionFailure failure) : Exception(message)
{
    public ResolutionFailure Failure { get; } = failure;
}
