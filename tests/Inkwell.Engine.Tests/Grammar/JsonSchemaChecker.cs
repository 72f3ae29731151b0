using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Inkwell.Engine.Tests.Grammar;

/// <summary>
/// A small JSON schema validator for the tests, written straight from the JSON Schema rules over System.Text.Json
/// (it shares no code with the compiler). It follows the compiler's documented policy where the two differ from
/// the spec: additionalProperties defaults to false when "properties" is given, and format "date" checks month 1-12
/// and day 1-31 only.
/// </summary>
internal static class JsonSchemaChecker
{
    public static string? Check(string json, string schemaJson)
    {
        JsonDocument instance;
        try
        {
            instance = JsonDocument.Parse(json);
        }
        catch (JsonException e)
        {
            return "not JSON: " + e.Message;
        }
        using (instance)
        using (var schema = JsonDocument.Parse(schemaJson))
        {
            return Validate(instance.RootElement, schema.RootElement, schema.RootElement, "$");
        }
    }

    /// <summary>Returns null when valid, else where and why not.</summary>
    private static string? Validate(JsonElement v, JsonElement s, JsonElement root, string at)
    {
        if (s.ValueKind == JsonValueKind.True) return null;
        if (s.ValueKind == JsonValueKind.False) return $"{at}: false schema";
        if (s.TryGetProperty("$ref", out var r)) return Validate(v, Resolve(root, r.GetString()!), root, at);
        if (s.TryGetProperty("const", out var c) && !JsonElement.DeepEquals(v, c)) return $"{at}: not the const";
        if (s.TryGetProperty("enum", out var e) && !e.EnumerateArray().Any(o => JsonElement.DeepEquals(v, o))) return $"{at}: not in enum";
        if (s.TryGetProperty("anyOf", out var any) && any.EnumerateArray().All(sub => Validate(v, sub, root, at) is not null)) return $"{at}: no anyOf branch";
        if (s.TryGetProperty("oneOf", out var one) && one.EnumerateArray().Count(sub => Validate(v, sub, root, at) is null) != 1) return $"{at}: not exactly one oneOf branch";
        if (s.TryGetProperty("allOf", out var all) && all.EnumerateArray().Select(sub => Validate(v, sub, root, at)).FirstOrDefault(x => x is not null) is { } bad) return bad;
        if (s.TryGetProperty("type", out var type))
        {
            var types = type.ValueKind == JsonValueKind.Array ? type.EnumerateArray().Select(x => x.GetString()!).ToList() : [type.GetString()!];
            if (!types.Any(t => HasType(v, t))) return $"{at}: not of type {string.Join("/", types)}";
        }
        switch (v.ValueKind)
        {
            case JsonValueKind.String:
            {
                string str = v.GetString()!;
                int len = str.EnumerateRunes().Count();
                if (s.TryGetProperty("minLength", out var min) && len < min.GetInt32()) return $"{at}: shorter than minLength";
                if (s.TryGetProperty("maxLength", out var max) && len > max.GetInt32()) return $"{at}: longer than maxLength";
                if (s.TryGetProperty("pattern", out var p) && !PatternRegex(p.GetString()!).IsMatch(str))
                    return $"{at}: '{str}' does not match pattern";
                if (s.TryGetProperty("format", out var f) && !FormatOk(str, f.GetString()!)) return $"{at}: '{str}' is not a {f.GetString()}";
                break;
            }
            case JsonValueKind.Number:
            {
                bool bounded = s.TryGetProperty("minimum", out _) || s.TryGetProperty("maximum", out _) ||
                               s.TryGetProperty("exclusiveMinimum", out _) || s.TryGetProperty("exclusiveMaximum", out _);
                if (!v.TryGetDecimal(out decimal n))
                {
                    if (bounded) return $"{at}: {v.GetRawText()} is out of the checker's decimal range";
                    break;
                }
                if (s.TryGetProperty("minimum", out var min) && n < min.GetDecimal()) return $"{at}: below minimum";
                if (s.TryGetProperty("maximum", out var max) && n > max.GetDecimal()) return $"{at}: above maximum";
                if (s.TryGetProperty("exclusiveMinimum", out var xmin) && n <= xmin.GetDecimal()) return $"{at}: not above exclusiveMinimum";
                if (s.TryGetProperty("exclusiveMaximum", out var xmax) && n >= xmax.GetDecimal()) return $"{at}: not below exclusiveMaximum";
                break;
            }
            case JsonValueKind.Array:
            {
                int n = v.GetArrayLength();
                if (s.TryGetProperty("minItems", out var min) && n < min.GetInt32()) return $"{at}: fewer than minItems";
                if (s.TryGetProperty("maxItems", out var max) && n > max.GetInt32()) return $"{at}: more than maxItems";
                if (s.TryGetProperty("items", out var items))
                {
                    int i = 0;
                    foreach (var item in v.EnumerateArray())
                        if (Validate(item, items, root, $"{at}[{i++}]") is { } why) return why;
                }
                break;
            }
            case JsonValueKind.Object:
            {
                var seen = new HashSet<string>();
                bool hasProps = s.TryGetProperty("properties", out var props);
                bool hasAdditional = s.TryGetProperty("additionalProperties", out var additional);
                foreach (var p in v.EnumerateObject())
                {
                    if (!seen.Add(p.Name)) return $"{at}: duplicate key {p.Name}";
                    if (hasProps && props.TryGetProperty(p.Name, out var ps))
                    {
                        if (Validate(p.Value, ps, root, $"{at}.{p.Name}") is { } why) return why;
                    }
                    else if (hasAdditional)
                    {
                        if (Validate(p.Value, additional, root, $"{at}.{p.Name}") is { } why) return why;
                    }
                    else if (hasProps)
                    {
                        return $"{at}: unexpected key {p.Name}";
                    }
                }
                if (s.TryGetProperty("required", out var req))
                    foreach (var name in req.EnumerateArray())
                        if (!seen.Contains(name.GetString()!)) return $"{at}: missing {name.GetString()}";
                break;
            }
        }
        return null;
    }

    /// <summary>
    /// A JSON Schema pattern as .NET runs it: a search (ECMAScript), with '$' meaning the very end of the string as in
    /// ECMAScript ('$' in .NET also matches before a final newline). The test patterns use '$' only as that anchor.
    /// </summary>
    public static Regex PatternRegex(string pattern) => new(pattern.Replace("$", @"(?![\s\S])"), RegexOptions.ECMAScript);

    private static bool HasType(JsonElement v, string type) => type switch
    {
        "string" => v.ValueKind == JsonValueKind.String,
        "number" => v.ValueKind == JsonValueKind.Number,
        "integer" => v.ValueKind == JsonValueKind.Number && double.TryParse(v.GetRawText(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && Math.Floor(d) == d,
        "boolean" => v.ValueKind is JsonValueKind.True or JsonValueKind.False,
        "null" => v.ValueKind == JsonValueKind.Null,
        "object" => v.ValueKind == JsonValueKind.Object,
        "array" => v.ValueKind == JsonValueKind.Array,
        _ => throw new ArgumentException("checker does not know type " + type),
    };

    private static bool FormatOk(string s, string format)
    {
        switch (format)
        {
            case "uuid":
                return Guid.TryParseExact(s, "D", out _);
            case "date":
            {
                var parts = s.Split('-');
                return parts.Length == 3 && parts[0].Length == 4 && parts[1].Length == 2 && parts[2].Length == 2 &&
                       parts.All(x => x.All(char.IsAsciiDigit)) &&
                       int.Parse(parts[1], CultureInfo.InvariantCulture) is >= 1 and <= 12 &&
                       int.Parse(parts[2], CultureInfo.InvariantCulture) is >= 1 and <= 31;
            }
            case "time":
            {
                // hh:mm:ss[.frac][Z|+hh:mm|-hh:mm]
                if (s.Length < 8 || !TimeOnly.TryParseExact(s[..8], "HH:mm:ss", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)) return false;
                string rest = s[8..];
                if (rest.StartsWith('.'))
                {
                    int k = 1;
                    while (k < rest.Length && char.IsAsciiDigit(rest[k])) k++;
                    if (k == 1) return false;
                    rest = rest[k..];
                }
                return rest.Length == 0 || rest == "Z" ||
                       (rest.Length == 6 && rest[0] is '+' or '-' && TimeOnly.TryParseExact(rest[1..], "HH:mm", CultureInfo.InvariantCulture, DateTimeStyles.None, out _));
            }
            default:
                throw new ArgumentException("checker does not know format " + format);
        }
    }

    private static JsonElement Resolve(JsonElement root, string reference)
    {
        var target = root;
        foreach (var key in reference.TrimStart('#').Split('/', StringSplitOptions.RemoveEmptyEntries))
            target = target.GetProperty(key.Replace("~1", "/").Replace("~0", "~"));
        return target;
    }
}
