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
    // kind, model_path / url / urls / service, routing, and free-form engine options side by side;
    // values are scalars except urls, a list
    public Dictionary<string, object>? ClientSpec { get; set; }
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

internal static partial class RegistryYaml
{
    private static readonly IDeserializer Deserializer = new DeserializerBuilder()
        .WithNamingConvention(UnderscoredNamingConvention.Instance)
        .Build();

    /// <summary>Parses <paramref name="text"/>; a syntax or shape error names the file and line.</summary>
    public static T Parse<T>(string text, string filePath) where T : new()
    {
        try
        {
            // Syntax first: the parser's own messages are clearer than the deserializer's for broken YAML.
            CheckSyntax(text, filePath);
            return Deserializer.Deserialize<T>(text) ?? new T(); // an empty file is an empty registry
        }
        catch (YamlException ex)
        {
            var line = (int)ex.Start.Line;
            throw new RegistryLoadException($"{filePath}:{line}:{ex.Start.Column}: malformed YAML: {Describe(ex)}", filePath, line: line, inner: ex);
        }
    }

    private static void CheckSyntax(string text, string filePath)
    {
        var parser = new Parser(new StringReader(text));
        var last = Mark.Empty;
        try
        {
            while (parser.MoveNext()) last = parser.Current!.End;
        }
        catch (InvalidOperationException ex)
        {
            // YamlDotNet fails this way on some broken input (e.g. an unclosed '['), without a position:
            // point at the end of the last well-formed node instead.
            var line = (int)last.Line;
            throw new RegistryLoadException(
                $"{filePath}:{line}:{last.Column}: malformed YAML after this point (unclosed bracket or quote?): {ex.Message}",
                filePath, line: line, inner: ex);
        }
    }

    private static string Describe(YamlException ex)
    {
        // YamlDotNet prefixes messages with "(Line: 3, Col: 5, Idx: 20) - (Line: ...): "; we print our own position.
        var message = ex.Message;
        var marker = message.IndexOf("): ", StringComparison.Ordinal);
        if (message.StartsWith("(Line:", StringComparison.Ordinal) && marker >= 0) message = message[(marker + 3)..];
        var unknown = UnknownProperty().Match(message);
        if (unknown.Success) return $"unknown key '{unknown.Groups[1].Value}'";
        if (ex.InnerException is { Message.Length: > 0 } inner) return $"invalid value: {inner.Message}";
        return message;
    }

    [System.Text.RegularExpressions.GeneratedRegex("^Property '([^']+)' not found on type")]
    private static partial System.Text.RegularExpressions.Regex UnknownProperty();
}
