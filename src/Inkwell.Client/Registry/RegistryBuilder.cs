using System.Globalization;

namespace Inkwell.Client.Registry;

/// <summary>Turns the parsed files into validated records: required fields, allowed values, unique names,
/// and every cross-file reference, each error naming its file and entry.</summary>
internal sealed class RegistryBuilder(RegistrySource metadata, RegistrySource deployments, RegistrySource? tokenizers, string? baseDirectory)
{
    private static readonly string[] SpecKeys = ["kind", "model_path", "url", "urls", "service", "routing", "prefix_chars", "load_factor"];
    private static readonly string[] RemoteOnlyKeys = ["url", "urls", "service", "routing", "prefix_chars", "load_factor"];

    public ModelRegistry Build(Func<IReadOnlyList<ModelMetadata>, IReadOnlyList<ModelDeployment>, IReadOnlyList<TokenizerConfig>, ModelRegistry> create)
    {
        var tokenizerList = tokenizers is null ? [] : BuildTokenizers(RegistryYaml.Parse<TokenizerConfigsFile>(tokenizers.Yaml, tokenizers.Path));
        var modelList = BuildModels(RegistryYaml.Parse<ModelMetadataFile>(metadata.Yaml, metadata.Path));
        var deploymentList = BuildDeployments(RegistryYaml.Parse<ModelDeploymentsFile>(deployments.Yaml, deployments.Path));
        CheckReferences(modelList, deploymentList, tokenizerList);
        return create(modelList, deploymentList, tokenizerList);
    }

    private List<TokenizerConfig> BuildTokenizers(TokenizerConfigsFile file)
    {
        var path = tokenizers!.Path;
        var result = new List<TokenizerConfig>();
        foreach (var (entry, index) in (file.TokenizerConfigs ?? []).Select((e, i) => (e, i)))
        {
            var name = RequireName(entry?.Name, path, index, "tokenizer_configs");
            if (entry!.TokenizerSpec is null or { Count: 0 })
                throw Error(path, name, $"tokenizer config '{name}' has no tokenizer_spec.");
            result.Add(new TokenizerConfig(name, entry.TokenizerSpec, entry.EndOfTextToken, entry.PrefixToken));
        }
        RequireUnique(result.Select(t => t.Name), path, "tokenizer config");
        return result;
    }

    private List<ModelMetadata> BuildModels(ModelMetadataFile file)
    {
        var path = metadata.Path;
        var result = new List<ModelMetadata>();
        foreach (var (entry, index) in (file.Models ?? []).Select((e, i) => (e, i)))
        {
            var name = RequireName(entry?.Name, path, index, "models");
            RequireSlashed(name, path, "model", "creator/engine");
            var access = (entry!.Access ?? "open").ToLowerInvariant() switch
            {
                "open" => ModelAccess.Open,
                "limited" => ModelAccess.Limited,
                "closed" => ModelAccess.Closed,
                _ => throw Error(path, name, $"model '{name}' has access '{entry.Access}'; expected open, limited or closed."),
            };
            DateOnly? released = null;
            if (entry.ReleaseDate is { } date)
            {
                released = DateOnly.TryParseExact(date, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
                    ? d
                    : throw Error(path, name, $"model '{name}' has release_date '{date}'; expected YYYY-MM-DD.");
            }
            if (entry.NumParameters is <= 0)
                throw Error(path, name, $"model '{name}' has num_parameters {entry.NumParameters}; expected a positive count.");
            result.Add(new ModelMetadata(name, entry.DisplayName ?? name, entry.Description, entry.CreatorOrganization, access, released,
                entry.Tags ?? [], entry.NumParameters, entry.DeploymentNames ?? []));
        }
        RequireUnique(result.Select(m => m.Name), path, "model");
        return result;
    }

    private List<ModelDeployment> BuildDeployments(ModelDeploymentsFile file)
    {
        var path = deployments.Path;
        var result = new List<ModelDeployment>();
        foreach (var (entry, index) in (file.ModelDeployments ?? []).Select((e, i) => (e, i)))
        {
            var name = RequireName(entry?.Name, path, index, "model_deployments");
            RequireSlashed(name, path, "deployment", "host/engine");
            // HELM: a deployment without model_name serves the model of the same name.
            var modelName = string.IsNullOrWhiteSpace(entry!.ModelName) ? name : entry.ModelName;
            var spec = BuildClientSpec(entry.ClientSpec, path, name);
            RequirePositive(entry.MaxSequenceLength, "max_sequence_length", path, name);
            RequirePositive(entry.MaxRequestLength, "max_request_length", path, name);
            RequirePositive(entry.MaxSequenceAndGeneratedTokensLength, "max_sequence_and_generated_tokens_length", path, name);
            result.Add(new ModelDeployment(name, modelName, spec, entry.TokenizerName, entry.MaxSequenceLength,
                entry.MaxRequestLength, entry.MaxSequenceAndGeneratedTokensLength, entry.Deprecated ?? false));
        }
        RequireUnique(result.Select(d => d.Name), path, "deployment");
        return result;
    }

    private ClientSpec BuildClientSpec(Dictionary<string, object>? raw, string path, string name)
    {
        if (raw is null || !raw.TryGetValue("kind", out var kindValue) || kindValue is not string kindText)
            throw Error(path, name, $"deployment '{name}' needs client_spec with a kind (local, tgi, tgis or openai).");
        var kind = kindText.ToLowerInvariant() switch
        {
            "local" => ClientKind.Local,
            "tgi" => ClientKind.Tgi,
            "tgis" => ClientKind.Tgis,
            "openai" => ClientKind.OpenAI,
            _ => throw Error(path, name, $"deployment '{name}' has client_spec kind '{kindText}'; expected local, tgi, tgis or openai."),
        };
        string? Scalar(string key) => raw.GetValueOrDefault(key) switch
        {
            null => null,
            string text => text,
            _ => throw Error(path, name, $"deployment '{name}' has a list or map for client_spec {key}; expected a single value."),
        };
        var options = raw.Keys.Where(k => !SpecKeys.Contains(k)).ToDictionary(k => k, k => Scalar(k)!, StringComparer.Ordinal);
        if (kind == ClientKind.Local)
        {
            var modelPath = Scalar("model_path");
            if (string.IsNullOrWhiteSpace(modelPath))
                throw Error(path, name, $"deployment '{name}' is local but its client_spec has no model_path.");
            if (RemoteOnlyKeys.FirstOrDefault(raw.ContainsKey) is { } remoteKey)
                throw Error(path, name, $"deployment '{name}' is local; {remoteKey} does not belong in its client_spec.");
            var full = baseDirectory is null || Path.IsPathRooted(modelPath) ? modelPath : Path.GetFullPath(Path.Combine(baseDirectory, modelPath));
            // A Hub model id (org/name[@revision][:QUANT], as TGI's --model-id) naming nothing under the registry
            // directory stays as written: the deployment resolves it through the Hugging Face cache when it loads.
            if (!Path.IsPathRooted(modelPath) && !Path.Exists(full) && modelPath.Count(c => c == '/') == 1 && !modelPath.StartsWith('.')
                && !new[] { ".gguf", ".bin", ".safetensors" }.Any(e => modelPath.EndsWith(e, StringComparison.OrdinalIgnoreCase)))
                full = modelPath;
            return new ClientSpec(kind, full, [], null, new RoutingOptions(), options);
        }
        if (raw.ContainsKey("model_path"))
            throw Error(path, name, $"deployment '{name}' is remote ({kindText}); model_path only applies to local deployments.");
        if (options.Count > 0)
            throw Error(path, name, $"deployment '{name}' is remote ({kindText}); engine options ({string.Join(", ", options.Keys)}) only apply to local deployments.");
        var urls = ReplicaUrls(raw, kindText, path, name);
        var service = Scalar("service") is { } serviceText ? ParseService(serviceText, kind, path, name) : null;
        if (urls.Count == 0 == (service is null))
            throw Error(path, name, $"deployment '{name}' is {kindText} and needs its replicas: an absolute http(s) url, a list of urls, or a Kubernetes service (name.namespace:port), exactly one of them.");
        return new ClientSpec(kind, null, urls, service, ParseRouting(Scalar, path, name), options);
    }

    private static List<Uri> ReplicaUrls(Dictionary<string, object> raw, string kindText, string path, string name)
    {
        var texts = new List<string?>();
        if (raw.TryGetValue("url", out var one)) texts.Add(one as string ?? throw Error(path, name, $"deployment '{name}' has a list for url; use urls for several replicas."));
        if (raw.TryGetValue("urls", out var many))
        {
            if (texts.Count > 0) throw Error(path, name, $"deployment '{name}' has both url and urls; use one.");
            if (many is not List<object> { Count: > 0 } list)
                throw Error(path, name, $"deployment '{name}' has urls that is not a non-empty list.");
            texts.AddRange(list.Select(u => u as string));
        }
        var urls = new List<Uri>();
        foreach (var text in texts)
        {
            if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https" or "grpc"))
                throw Error(path, name, $"deployment '{name}' is {kindText} and needs an absolute http(s) url in client_spec, got '{text}'.");
            urls.Add(url);
        }
        if (urls.GroupBy(u => u.AbsoluteUri).FirstOrDefault(g => g.Count() > 1) is { } twice)
            throw Error(path, name, $"deployment '{name}' lists replica url '{twice.Key}' more than once.");
        return urls;
    }

    private static ServiceReference ParseService(string text, ClientKind kind, string path, string name)
    {
        var colon = text.LastIndexOf(':');
        var host = colon < 0 ? text : text[..colon];
        var port = 80;
        if (colon >= 0 && (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
            throw Error(path, name, $"deployment '{name}' has service '{text}' with a bad port; expected name.namespace:port.");
        var parts = host.Split('.');
        if (parts.Length > 2 || parts.Any(p => p.Length == 0 || !p.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-')))
            throw Error(path, name, $"deployment '{name}' has service '{text}'; expected a Kubernetes name, optionally .namespace and :port (e.g. inkwell.default:3000).");
        return new ServiceReference(parts[0], parts.Length == 2 ? parts[1] : "default", port, kind == ClientKind.Tgis ? "grpc" : "http");
    }

    private static RoutingOptions ParseRouting(Func<string, string?> scalar, string path, string name)
    {
        var defaults = new RoutingOptions();
        var policy = scalar("routing") switch
        {
            null => defaults.Policy,
            "least_outstanding" => RoutingPolicy.LeastOutstanding,
            "prefix_affinity" => RoutingPolicy.PrefixAffinity,
            "round_robin" => RoutingPolicy.RoundRobin,
            var other => throw Error(path, name, $"deployment '{name}' has routing '{other}'; expected least_outstanding, prefix_affinity or round_robin."),
        };
        var prefixChars = defaults.PrefixChars;
        if (scalar("prefix_chars") is { } charsText && (!int.TryParse(charsText, NumberStyles.None, CultureInfo.InvariantCulture, out prefixChars) || prefixChars < 1))
            throw Error(path, name, $"deployment '{name}' has prefix_chars '{charsText}'; expected a positive integer.");
        var loadFactor = defaults.LoadFactor;
        if (scalar("load_factor") is { } factorText && (!double.TryParse(factorText, NumberStyles.Float, CultureInfo.InvariantCulture, out loadFactor) || !(loadFactor >= 1)))
            throw Error(path, name, $"deployment '{name}' has load_factor '{factorText}'; expected a number >= 1 (c in capacity = c * average load).");
        if (policy != RoutingPolicy.PrefixAffinity && (scalar("prefix_chars") ?? scalar("load_factor")) is not null)
            throw Error(path, name, $"deployment '{name}' sets prefix_chars or load_factor, which only prefix_affinity routing uses.");
        return new RoutingOptions(policy, prefixChars, loadFactor);
    }

    private void CheckReferences(List<ModelMetadata> models, List<ModelDeployment> deploymentList, List<TokenizerConfig> tokenizerList)
    {
        var modelNames = models.Select(m => m.Name).ToHashSet(StringComparer.Ordinal);
        var byName = deploymentList.ToDictionary(d => d.Name, StringComparer.Ordinal);
        var tokenizerNames = tokenizerList.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var deployment in deploymentList)
        {
            if (!modelNames.Contains(deployment.ModelName))
                throw Error(deployments.Path, deployment.Name,
                    $"deployment '{deployment.Name}' serves model '{deployment.ModelName}', which {metadata.Path} does not define.");
            if (deployment.TokenizerName is { } tokenizer && !tokenizerNames.Contains(tokenizer))
                throw Error(deployments.Path, deployment.Name, tokenizers is null
                    ? $"deployment '{deployment.Name}' uses tokenizer '{tokenizer}', but there is no {ModelRegistry.TokenizersFileName}."
                    : $"deployment '{deployment.Name}' uses tokenizer '{tokenizer}', which {tokenizers.Path} does not define.");
        }
        foreach (var model in models)
        {
            RequireUnique(model.DeploymentNames, metadata.Path, $"deployment_names entry of model '{model.Name}'");
            foreach (var deploymentName in model.DeploymentNames)
            {
                if (!byName.TryGetValue(deploymentName, out var deployment))
                    throw Error(metadata.Path, model.Name,
                        $"model '{model.Name}' lists deployment '{deploymentName}', which {deployments.Path} does not define.");
                if (deployment.ModelName != model.Name)
                    throw Error(metadata.Path, model.Name,
                        $"model '{model.Name}' lists deployment '{deploymentName}', but that deployment serves '{deployment.ModelName}'.");
            }
        }
    }

    private static string RequireName(string? name, string path, int index, string section)
    {
        if (string.IsNullOrWhiteSpace(name))
            throw Error(path, $"entry #{index + 1}", $"{section} entry #{index + 1} has no name.");
        return name;
    }

    private static void RequireSlashed(string name, string path, string what, string shape)
    {
        var slash = name.IndexOf('/');
        if (slash <= 0 || slash == name.Length - 1)
            throw Error(path, name, $"{what} name '{name}' must look like '{shape}'.");
    }

    private static void RequirePositive(int? value, string field, string path, string name)
    {
        if (value is <= 0) throw Error(path, name, $"deployment '{name}' has {field} {value}; expected a positive number.");
    }

    private static void RequireUnique(IEnumerable<string> names, string path, string what)
    {
        var duplicate = names.GroupBy(n => n, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw Error(path, duplicate.Key, $"{what} '{duplicate.Key}' is defined more than once.");
    }

    private static RegistryLoadException Error(string path, string entry, string message) => new($"{path}: {message}", path, entry);
}
