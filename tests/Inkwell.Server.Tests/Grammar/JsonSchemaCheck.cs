using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Inkwell.Server.Tests.Grammar;

/// <summary>
/// A small JSON Schema validator written from the specification (draft 2020-12 validation keywords), independent of
/// the grammar compiler, for the keywords the tests use. Returns null when valid, else the first problem.
/// </summary>
internal static class JsonSchemaCheck
{
    public static string? Validate(string json, string schema)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(json); }
        catch (JsonException e) { return "not JSON: " + e.Message; }
        using (doc)
        using (var s = JsonDocument.Parse(schema))
            return Check(doc.RootElement, s.RootElement, "$");
    }

    private static string? Check(JsonElement v, JsonElement s, string path)
    {
        if (s.TryGetProperty("type", out var type) && !HasType(v, type.GetString()!)) return $"{path}: expected {type.GetString()}, got {v.ValueKind}";
        if (s.TryGetProperty("enum", out var en) && !en.EnumerateArray().Any(e => DeepEquals(e, v))) return $"{path}: {v.GetRawText()} not in enum";
        if (s.TryGetProperty("const", out var c) && !DeepEquals(c, v)) return $"{path}: not the const";
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
                string str = v.GetString()!;
                int length = str.EnumerateRunes().Count();
                if (s.TryGetProperty("maxLength", out var maxL) && length > maxL.GetInt32()) return $"{path}: longer than maxLength";
                if (s.TryGetProperty("minLength", out var minL) && length < minL.GetInt32()) return $"{path}: shorter than minLength";
                if (s.TryGetProperty("pattern", out var pat) && !Regex.IsMatch(str, pat.GetString()!, RegexOptions.ECMAScript)) return $"{path}: does not match pattern";
                break;
            case JsonValueKind.Number:
                if (!v.TryGetDecimal(out decimal number)) break; // beyond decimal: only unbounded schemas produce these
                if (s.TryGetProperty("minimum", out var min) && number < min.GetDecimal()) return $"{path}: below minimum";
                if (s.TryGetProperty("maximum", out var max) && number > max.GetDecimal()) return $"{path}: above maximum";
                break;
            case JsonValueKind.Array:
                int n = v.GetArrayLength();
                if (s.TryGetProperty("maxItems", out var maxI) && n > maxI.GetInt32()) return $"{path}: more than maxItems";
                if (s.TryGetProperty("minItems", out var minI) && n < minI.GetInt32()) return $"{path}: fewer than minItems";
                if (s.TryGetProperty("items", out var items))
                {
                    int i = 0;
                    foreach (var e in v.EnumerateArray())
                        if (Check(e, items, $"{path}[{i++}]") is { } problem) return problem;
                }
                break;
            case JsonValueKind.Object:
                var names = v.EnumerateObject().Select(p => p.Name).ToList();
                if (names.Count != names.Distinct().Count()) return $"{path}: duplicate property";
                if (s.TryGetProperty("required", out var req))
                    foreach (var r in req.EnumerateArray())
                        if (!names.Contains(r.GetString()!)) return $"{path}: missing required {r.GetString()}";
                var props = s.TryGetProperty("properties", out var p) ? p : default;
                foreach (var prop in v.EnumerateObject())
                {
                    if (props.ValueKind == JsonValueKind.Object && props.TryGetProperty(prop.Name, out var sub))
                    {
                        if (Check(prop.Value, sub, $"{path}.{prop.Name}") is { } problem) return problem;
                    }
                    else if (s.TryGetProperty("additionalProperties", out var ap) && ap.ValueKind == JsonValueKind.False)
                        return $"{path}: unexpected property {prop.Name}";
                }
                break;
        }
        return null;
    }

    private static bool HasType(JsonElement v, string type) => type switch
    {
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        "string" => v.ValueKind == JsonValueKind.String,
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => v.ValueKind == JsonValueKind.Null,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && decimal.TryParse(v.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && d == decimal.Truncate(d),
        _ => throw new ArgumentException("type " + type),
    };

    private static bool DeepEquals(JsonElement a, JsonElement b) => JsonElement.DeepEquals(a, b);
}
