namespace Inkwell.Client.Registry;

/// <summary>Models (what they are) and deployments (where they run), loaded from YAML and cross-checked,
/// with the rules that pick a deployment for a request.</summary>
public sealed class ModelRegistry
{
    public const string MetadataFileName = "model_metadata.yaml";
    public const string DeploymentsFileName = "model_deployments.yaml";
    public const string TokenizersFileName = "tokenizer_configs.yaml";

    private readonly Dictionary<string, ModelMetadata> _models;
    private readonly Dictionary<string, ModelDeployment> _deployments;
    private readonly Dictionary<string, TokenizerConfig> _tokenizers;

    private ModelRegistry(IReadOnlyList<ModelMetadata> models, IReadOnlyList<ModelDeployment> deployments, IReadOnlyList<TokenizerConfig> tokenizers)
    {
        Models = models;
        Deployments = deployments;
        Tokenizers = tokenizers;
        _models = models.ToDictionary(m => m.Name, StringComparer.Ordinal);
        _deployments = deployments.ToDictionary(d => d.Name, StringComparer.Ordinal);
        _tokenizers = tokenizers.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Models in file order.</summary>
    public IReadOnlyList<ModelMetadata> Models { get; }

    /// <summary>Deployments in file order.</summary>
    public IReadOnlyList<ModelDeployment> Deployments { get; }

    public IReadOnlyList<TokenizerConfig> Tokenizers { get; }

    /// <summary>Loads model_metadata.yaml and model_deployments.yaml (required) and tokenizer_configs.yaml
    /// (optional) from <paramref name="directory"/>; relative model_path values are taken from there.</summary>
    /// <exception cref="RegistryLoadException">A file is missing or malformed, or a reference dangles.</exception>
    public static ModelRegistry LoadFromDirectory(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var full = Path.GetFullPath(directory);
        if (!Directory.Exists(full))
            throw new RegistryLoadException($"Registry directory '{full}' does not exist.", full);
        var metadataPath = Path.Combine(full, MetadataFileName);
        var deploymentsPath = Path.Combine(full, DeploymentsFileName);
        var tokenizersPath = Path.Combine(full, TokenizersFileName);
        return Load(
            new RegistrySource(metadataPath, ReadRequired(metadataPath)),
            new RegistrySource(deploymentsPath, ReadRequired(deploymentsPath)),
            File.Exists(tokenizersPath) ? new RegistrySource(tokenizersPath, File.ReadAllText(tokenizersPath)) : null,
            full);
    }

    /// <summary>Loads from YAML text; each source's Path is only used in error messages.</summary>
    public static ModelRegistry Load(RegistrySource metadata, RegistrySource deployments, RegistrySource? tokenizers = null, string? baseDirectory = null) =>
        new RegistryBuilder(metadata, deployments, tokenizers, baseDirectory).Build(
            (m, d, t) => new ModelRegistry(m, d, t));

    private static string ReadRequired(string path) =>
        File.Exists(path) ? File.ReadAllText(path) : throw new RegistryLoadException($"Required registry file '{path}' does not exist.", path);

    public ModelMetadata? FindModel(string name) => _models.GetValueOrDefault(name);

    public ModelDeployment? FindDeployment(string name) => _deployments.GetValueOrDefault(name);

    public TokenizerConfig? FindTokenizer(string name) => _tokenizers.GetValueOrDefault(name);

    /// <summary>A model's deployments in order of preference: its deployment_names first, then any other
    /// deployment serving it, in file order.</summary>
    public IReadOnlyList<ModelDeployment> DeploymentsOf(ModelMetadata model)
    {
        var ordered = model.DeploymentNames.Select(n => _deployments[n]).ToList();
        ordered.AddRange(Deployments.Where(d => d.ModelName == model.Name && !model.DeploymentNames.Contains(d.Name)));
        return ordered;
    }

    /// <summary>Picks the deployment for a request, by HELM's rules (model_deployment_registry.py,
    /// get_default_model_deployment_for_model). Names may be exact or a unique suffix after '/' ("llama-2-7b" for
    /// "meta/llama-2-7b"). Deployment only: that deployment, and the model it serves. Both: that deployment, which
    /// must serve the model. Model only: a deployment named exactly like the model wins; else the model's first
    /// non-deprecated deployment; when every one is deprecated, the first of them. Any choice that was not explicit,
    /// and any deprecated deployment, comes with a warning naming it.</summary>
    /// <exception cref="ModelResolutionException">Neither name given, unknown or ambiguous name, mismatched
    /// deployment, or a model without deployments.</exception>
    public Resolution Resolve(string? modelName, string? deploymentName = null)
    {
        var hasModel = !string.IsNullOrWhiteSpace(modelName);
        if (!string.IsNullOrWhiteSpace(deploymentName))
        {
            var asked = FindByNameOrSuffix(deploymentName, _deployments, "deployment", Deployments.Select(d => d.Name));
            var served = _models[asked.ModelName];
            if (hasModel)
            {
                var model = FindByNameOrSuffix(modelName!, _models, "model", Models.Select(m => m.Name));
                if (asked.ModelName != model.Name)
                    throw new ModelResolutionException(
                        $"Deployment '{asked.Name}' serves model '{asked.ModelName}', not '{model.Name}'. " +
                        $"Deployments of '{model.Name}': {List(DeploymentsOf(model).Select(d => d.Name))}.", ResolutionFailure.Mismatch);
            }
            return new Resolution(served, asked, asked.Deprecated ? $"Deployment '{asked.Name}' is deprecated." : null);
        }
        if (!hasModel) throw new ModelResolutionException($"Name a model or a model_deployment. Known models: {List(Models.Select(m => m.Name))}.", ResolutionFailure.Unnamed);
        var named = FindByNameOrSuffix(modelName!, _models, "model", Models.Select(m => m.Name));

        if (_deployments.TryGetValue(named.Name, out var sameName) && sameName.ModelName == named.Name)
            return new Resolution(named, sameName, sameName.Deprecated ? $"Deployment '{sameName.Name}' is deprecated." : null);

        var candidates = DeploymentsOf(named);
        if (candidates.Count == 0)
            throw new ModelResolutionException($"Model '{named.Name}' has no deployment; add one to {DeploymentsFileName} with model_name: {named.Name}.", ResolutionFailure.Undeployed);
        var chosen = candidates.FirstOrDefault(d => !d.Deprecated);
        if (chosen is null)
        {
            // HELM falls back to the first deployment rather than failing a request for a model it knows.
            chosen = candidates[0];
            return new Resolution(named, chosen,
                $"Every deployment of model '{named.Name}' is deprecated ({List(candidates.Select(d => d.Name))}); using '{chosen.Name}'.");
        }
        var others = candidates.Where(d => d != chosen).Select(d => d.Name).ToList();
        var warning = others.Count == 0
            ? $"No deployment named '{named.Name}'; using its only deployment '{chosen.Name}'."
            : $"No deployment named '{named.Name}'; chose '{chosen.Name}' (first non-deprecated) over {List(others)}.";
        return new Resolution(named, chosen, warning);
    }

    private static T FindByNameOrSuffix<T>(string name, Dictionary<string, T> byName, string what, IEnumerable<string> allNames)
    {
        if (byName.TryGetValue(name, out var exact)) return exact;
        var matches = allNames.Where(n => n.EndsWith("/" + name, StringComparison.Ordinal)).ToList();
        return matches.Count switch
        {
            1 => byName[matches[0]],
            0 => throw new ModelResolutionException($"Unknown {what} '{name}'. Known: {List(allNames)}.", ResolutionFailure.Unknown),
            _ => throw new ModelResolutionException($"Ambiguous {what} '{name}': matches {List(matches)}; use the full name.", ResolutionFailure.Ambiguous),
        };
    }

    internal static string List(IEnumerable<string> names)
    {
        var all = names.ToList();
        if (all.Count == 0) return "(none)";
        const int shown = 10;
        var head = string.Join(", ", all.Take(shown).Select(n => $"'{n}'"));
        return all.Count > shown ? $"{head} and {all.Count - shown} more" : head;
    }
}

/// <summary>YAML text and the path to name in errors.</summary>
public sealed record RegistrySource(string Path, string Yaml);
