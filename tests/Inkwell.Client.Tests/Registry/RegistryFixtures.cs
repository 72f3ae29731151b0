using Inkwell.Client.Registry;

namespace Inkwell.Client.Tests.Registry;

internal static class RegistryFixtures
{
    public static string ValidDirectory => Path.Combine(AppContext.BaseDirectory, "Registry", "fixtures", "valid");

    public static ModelRegistry LoadValid() => ModelRegistry.LoadFromDirectory(ValidDirectory);

    public const string OneModel = """
        models:
          - name: acme/tiny
            deployment_names: [local/tiny]
        """;

    public const string OneDeployment = """
        model_deployments:
          - name: local/tiny
            model_name: acme/tiny
            client_spec: {kind: local, model_path: tiny.gguf}
        """;

    /// <summary>Loads inline YAML; the paths only appear in error messages.</summary>
    public static ModelRegistry Load(string metadata, string deployments, string? tokenizers = null) =>
        ModelRegistry.Load(
            new RegistrySource("inline/model_metadata.yaml", metadata),
            new RegistrySource("inline/model_deployments.yaml", deployments),
            tokenizers is null ? null : new RegistrySource("inline/tokenizer_configs.yaml", tokenizers));
}
