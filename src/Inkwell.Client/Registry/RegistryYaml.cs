using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Inkwell.Client.Registry;

// The files as written: loose, nullable shapes that ModelRegistry validates into the public records.
// Unknown keys are errors (a typo should not silently drop a setting).

internal sealed class ModelMetadataFile
{
    public List<ModelMetadataEntry>? Models { get; set; }
}

internal sealed class ModelMetadataEntry
{
    public string? Name { get; set; }
    public string? DisplayName { get; set; }
    public string? Description { get; set; }
    public string? CreatorOrganization { get; set; }
    public string? Access { get; set; }
    public string? ReleaseDate { get; set; }
    public List<string>? Tags { get; set; }
    public long? NumParameters { get; set; }
    public List<string>? DeploymentNames { get; set; }
}

internal sealed class ModelDeploymentsFile
{
    public List<ModelDeploymentEntry>? ModelDeployments { get; set; }
}

internal sealed class ModelDeploymentEntry
{
    public string? Name { get; set; }
    public string? ModelName { get; set; }
    // kind, model_path / url, and free-form engine options side by side
    public Dictionary<string, string>? ClientSpec { get; set; }
    public string? TokenizerName { get; set; }
    public int? MaxSequenceLength { get; set; }
    public int? MaxRequestLength { get; set; }
    public int? MaxSequenceAndGeneratedTokensLength { get; set; }
    public bool? Deprecated { get; set; }
}

internal sealed class TokenizerConfigsFile
{
    public List<TokenizerConfigEntry>? TokenizerConfigs { get; set; }
}

internal sealed class TokenizerConfigEntry
{
    public string? Name { get; set; }
    public Dictionary<string, string>? TokenizerSpec { get; set; }
    public string? EndOfTextToken { get; set; }
    public string? PrefixToken { get; set; }
}

internal static class RegistryYaml
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .Build();

    /// <summary>Parses <paramref name="text"/>; a syntax or shape error names the file and line.</summary>
    public static T Parse<T>(string text, string filePath) where T : new()
    {
        try
        {
            return Deserializer.Deserialize<T>(text) ?? new T(); // an empty file is an empty registry
        }
        catch (YamlException ex)
        {
            var line = (int)ex.Start.Line;
            var reason = ex.InnerException is { } inner && !string.IsNullOrEmpty(inner.Message) ? $"{Strip(ex.Message)} ({inner.Message})" : Strip(ex.Message);
            throw new RegistryLoadException($"{filePath}:{line}:{ex.Start.Column}: malformed YAML: {reason}", filePath, line: line, inner: ex);
        }
    }

    // YamlDotNet prefixes messages with "(Line: 3, Col: 5, Idx: 20) - (Line: ...): "; we print our own position.
    private static string Strip(string message)
    {
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        return message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0 ? message[(marker + 3)..] : message;
    }
}
