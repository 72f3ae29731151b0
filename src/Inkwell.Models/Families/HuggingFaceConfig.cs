using System.Text.Json;

namespace Inkwell.Models.Families;

/// <summary>A Hugging Face config.json, read by key with defaults; bad types are errors naming the file.</summary>
public sealed class HuggingFaceConfig(JsonElement root, string path)
{
    public JsonElement Root { get; } = root;
    public string Path { get; } = path;

    public bool Has(string key) => Root.TryGetProperty(key, out var v) && v.ValueKind != JsonValueKind.Null;

    public int Int(string key, int? fallback = null) =>
        Root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32()
        : fallback ?? throw new InvalidDataException($"{Path}: '{key}' is missing");

    public float Float(string key, float fallback) =>
        Root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetSingle() : fallback;

    public string? String(string key) =>
        Root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    /// <summary>An array of integers, or null when absent.</summary>
    public int[]? Ints(string key) =>
        Root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Array ? v.EnumerateArray().Select(e => e.GetInt32()).ToArray() : null;

    public JsonElement? Object(string key) =>
        Root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Object ? v : null;

    public InvalidDataException Bad(string what) => new($"{Path}: {what}");
}
