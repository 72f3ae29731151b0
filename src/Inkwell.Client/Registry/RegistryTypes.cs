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
/// EngineOptions (threads, max_total_tokens, ...) as written; for remote kinds, Url.</summary>
public sealed record ClientSpec(ClientKind Kind, string? ModelPath, Uri? Url, IReadOnlyDictionary<string, string> EngineOptions)
{
    /// <summary>An integer engine option, or null when absent; throws naming the option when it is not an integer.</summary>
    public int? GetIntOption(string name)
    {
        if (!EngineOptions.TryGetValue(name, out var text)) return null;
        return int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new FormatException($"Engine option '{name}' must be an integer, got '{text}'.");
    }
}

/// <summary>Where a model runs (model_deployments.yaml).</summary>
/// <param name="Name">"host/engine", e.g. "local/llama-2-7b".</param>
/// <param name="ModelName">The ModelMetadata.Name this deployment serves.</param>
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

/// <summary>A model / deployment request cannot be served as asked (unknown, ambiguous, mismatched, undeployed).</summary>
public sealed class ModelResolutionException(string message) : Exception(message);
