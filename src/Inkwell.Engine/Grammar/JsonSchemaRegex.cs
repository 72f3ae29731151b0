using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Inkwell.Engine.Grammar;

/// <summary>
/// JSON schema to regex, Outlines-style. The output is compact JSON with one fixed whitespace policy: an optional
/// single space after ':' and after ',' (nowhere else), so the model can follow its habit without wasting tokens.
/// Objects list their properties in schema order; optional ones may be skipped. additionalProperties defaults to
/// false (no keys beyond "properties"), and only a schema with no "properties" may allow extra keys (a map).
/// oneOf is treated as anyOf. Strings exclude \u escapes except for control characters a pattern asks for (so no
/// lone surrogates). Numbers have bounded digits as in llama.cpp's converter: at most 16 integer digits, 16 fraction
/// digits and 16 exponent digits; integer minimum/maximum/exclusiveMinimum/exclusiveMaximum are exact; a number's
/// minimum/maximum must be integers and then its exponent is dropped. "pattern" has JSON Schema's meaning (a search
/// over the decoded string, anchored only by its own ^ and $), see <see cref="JsonStringPattern"/>. $ref may point
/// into the same document (#, #/$defs/.., #/definitions/..); recursion is unrolled MaxJsonDepth levels, past which
/// that branch is impossible. The regex may not grow past <see cref="GrammarLimits.MaxRegexLength"/>. Any keyword that
/// would constrain values in a way this translation cannot honour is rejected.
/// </summary>
public static class JsonSchemaRegex
{
    public const string Whitespace = "[ ]?";
    public const string StringChar = @"(?:[^""\\\x00-\x1F]|\\[""\\/bfnrt])";
    public const string String = "\"" + StringChar + "*\"";
    /// <summary>Digits an unbounded integer part, fraction or exponent may have (llama.cpp's converter uses 16 too).</summary>
    public const int MaxDigits = 16;
    private const string Digits = "(?:0|[1-9][0-9]{0,15})";
    private const string Fraction = @"\.[0-9]{1,16}";
    public const string Integer = "-?" + Digits;
    public const string Number = Integer + "(?:" + Fraction + ")?(?:[eE][+-]?" + Digits + ")?";
    private const long LargestBoundedInteger = 9_999_999_999_999_999; // MaxDigits nines
    public const string Boolean = "(?:true|false)";
    public const string Null = "null";
    private const string Never = "(?!)";
    private const string Comma = "," + Whitespace;
    private const string Colon = ":" + Whitespace;

    private static readonly JsonSerializerOptions Compact = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static readonly HashSet<string> Annotations =
    [
        "title", "description", "$schema", "$id", "$comment", "default", "examples", "deprecated", "readOnly",
        "writeOnly", "$defs", "definitions",
    ];

    private static readonly HashSet<string> Understood =
    [
        "type", "properties", "required", "additionalProperties", "items", "minItems", "maxItems", "enum", "const",
        "pattern", "minLength", "maxLength", "format", "anyOf", "oneOf", "allOf", "$ref", "minimum", "maximum",
        "exclusiveMinimum", "exclusiveMaximum",
    ];

    private static readonly Dictionary<string, string> Formats = new()
    {
        ["date"] = @"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])",
        ["time"] = @"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?",
        ["date-time"] = @"[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]+)?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])",
        ["uuid"] = @"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}",
    };

    /// <summary>Regex for any JSON value nested at most depth levels of objects/arrays.</summary>
    public static string AnyValue(int depth)
    {
        string scalars = $"{String}|{Number}|true|false|null";
        return depth <= 0 ? $"(?:{scalars})" : $"(?:{scalars}|{AnyObject(depth)}|{AnyArray(depth)})";
    }

    /// <summary>Regex for any JSON object nested at most depth levels (depth 1: values are scalars).</summary>
    public static string AnyObject(int depth) => MapObject(AnyValue(depth - 1));

    private static string AnyArray(int depth) => ArrayOf(AnyValue(depth - 1), 0, -1);

    private static string MapObject(string value) =>
        $@"\{{(?:{String}{Colon}{value}(?:{Comma}{String}{Colon}{value})*)?\}}";

    private static string ArrayOf(string item, int min, int max)
    {
        if (max == 0) return @"\[\]";
        string rest = max < 0 ? $"{{{Math.Max(min - 1, 0)},}}" : $"{{{Math.Max(min - 1, 0)},{max - 1}}}";
        string body = $"{item}(?:{Comma}{item}){rest}";
        return min == 0 ? $@"\[(?:{body})?\]" : $@"\[{body}\]";
    }

    /// <summary>Alternation of the literal strings (for the Choice kind).</summary>
    public static string Choice(IEnumerable<string> options)
    {
        var escaped = options.Select(Escape).ToList();
        if (escaped.Count == 0) throw GrammarException.Invalid("a choice needs at least one option");
        return "(?:" + string.Join("|", escaped) + ")";
    }

    /// <summary>Escapes regex metacharacters so the text matches itself.</summary>
    public static string Escape(string literal)
    {
        var sb = new StringBuilder(literal.Length + 8);
        foreach (char c in literal)
        {
            if (@"\^$.|?*+()[]{}/-".Contains(c)) sb.Append('\\').Append(c);
            else if (c == '\n') sb.Append(@"\n");
            else if (c == '\r') sb.Append(@"\r");
            else if (c == '\t') sb.Append(@"\t");
            else sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>Translates a JSON schema (JSON text) to a regex over its compact JSON instances.</summary>
    public static string FromSchema(string schemaJson, GrammarLimits? limits = null, CancellationToken ct = default) =>
        FromSchema(schemaJson, CompileBudget.For(limits, ct));

    internal static string FromSchema(string schemaJson, CompileBudget budget)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(schemaJson, new JsonDocumentOptions { MaxDepth = 256 });
        }
        catch (JsonException e)
        {
            throw GrammarException.Invalid("the JSON schema is not valid JSON: " + e.Message);
        }
        using (doc)
        {
            RejectLoneSurrogates(doc.RootElement);
            return new Translator(doc.RootElement, budget).Translate(doc.RootElement, "#");
        }
    }

    /// <summary>JSON text may escape half a surrogate pair ("\ud800"), which no string can hold: refused up front, once.</summary>
    private static void RejectLoneSurrogates(JsonElement element)
    {
        try
        {
            switch (element.ValueKind)
            {
                case JsonValueKind.String:
                    _ = element.GetString();
                    break;
                case JsonValueKind.Array:
                    foreach (var item in element.EnumerateArray()) RejectLoneSurrogates(item);
                    break;
                case JsonValueKind.Object:
                    foreach (var property in element.EnumerateObject())
                    {
                        _ = property.Name;
                        RejectLoneSurrogates(property.Value);
                    }
                    break;
            }
        }
        catch (InvalidOperationException)
        {
            throw GrammarException.Invalid("the JSON schema contains a lone surrogate (an unpaired \\uD800-\\uDFFF escape)");
        }
    }

    private sealed class Translator(JsonElement root, CompileBudget budget)
    {
        private readonly Dictionary<string, int> _activeRefs = [];
        private readonly int maxDepth = budget.Limits.MaxJsonDepth;

        /// <summary>Every piece passes through here, so a blow-up (recursive $refs, many optional properties) stops early.</summary>
        private string Checked(string regex)
        {
            budget.ThrowIfCancelled();
            if (regex.Length > budget.Limits.MaxRegexLength)
                throw GrammarException.TooLarge($"the JSON schema translates to a regex longer than {budget.Limits.MaxRegexLength} characters " +
                                                "(recursive $refs, deep nesting or many optional properties)");
            return regex;
        }

        public string Translate(JsonElement s, string path) => Checked(TranslateUnchecked(s, path));

        private string TranslateUnchecked(JsonElement s, string path)
        {
            if (s.ValueKind == JsonValueKind.True) return AnyValue(maxDepth);
            if (s.ValueKind == JsonValueKind.False) return Never;
            if (s.ValueKind != JsonValueKind.Object) throw Bad(path, "a schema must be an object or a boolean");

            var constraints = new List<string>();
            foreach (var p in s.EnumerateObject())
            {
                if (Annotations.Contains(p.Name)) continue;
                if (!Understood.Contains(p.Name)) throw Bad(path, $"keyword '{p.Name}' is not supported");
                constraints.Add(p.Name);
            }

            if (s.TryGetProperty("$ref", out var reference))
            {
                Only(constraints, path, "$ref");
                return Ref(reference, path);
            }
            if (s.TryGetProperty("const", out var constant))
            {
                Only(constraints, path, "const", "type");
                return Escape(Literal(constant));
            }
            if (s.TryGetProperty("enum", out var options))
            {
                Only(constraints, path, "enum", "type");
                if (options.ValueKind != JsonValueKind.Array || options.GetArrayLength() == 0)
                    throw Bad(path, "'enum' must be a non-empty array");
                return "(?:" + string.Join("|", options.EnumerateArray().Select(o => Escape(Literal(o)))) + ")";
            }
            foreach (string key in (ReadOnlySpan<string>)["anyOf", "oneOf", "allOf"])
            {
                if (!s.TryGetProperty(key, out var list)) continue;
                Only(constraints, path, key);
                if (list.ValueKind != JsonValueKind.Array || list.GetArrayLength() == 0)
                    throw Bad(path, $"'{key}' must be a non-empty array");
                if (key == "allOf" && list.GetArrayLength() != 1)
                    throw Bad(path, "'allOf' with more than one schema is not supported");
                var parts = list.EnumerateArray().Select((sub, i) => Translate(sub, $"{path}/{key}/{i}"));
                return "(?:" + string.Join("|", parts) + ")";
            }

            var types = Types(s, path);
            return types.Count == 1 ? TypeRegex(types[0], s, path) : "(?:" + string.Join("|", types.Select(t => TypeRegex(t, s, path))) + ")";
        }

        private static void Only(List<string> constraints, string path, params string[] allowed)
        {
            foreach (var c in constraints)
                if (!allowed.Contains(c)) throw Bad(path, $"'{c}' alongside '{allowed[0]}' is not supported");
        }

        private static List<string> Types(JsonElement s, string path)
        {
            if (s.TryGetProperty("type", out var type))
            {
                if (type.ValueKind == JsonValueKind.String) return [type.GetString()!];
                if (type.ValueKind == JsonValueKind.Array && type.GetArrayLength() > 0 &&
                    type.EnumerateArray().All(t => t.ValueKind == JsonValueKind.String))
                    return type.EnumerateArray().Select(t => t.GetString()!).Distinct().ToList();
                throw Bad(path, "'type' must be a string or a non-empty array of strings");
            }
            // No type: infer it from the keywords, or allow any value.
            if (s.TryGetProperty("properties", out _) || s.TryGetProperty("additionalProperties", out _) || s.TryGetProperty("required", out _)) return ["object"];
            if (s.TryGetProperty("items", out _) || s.TryGetProperty("minItems", out _) || s.TryGetProperty("maxItems", out _)) return ["array"];
            if (s.TryGetProperty("pattern", out _) || s.TryGetProperty("format", out _) || s.TryGetProperty("minLength", out _) || s.TryGetProperty("maxLength", out _)) return ["string"];
            if (NumericKeywords.Any(k => s.TryGetProperty(k, out _))) return ["number"];
            return ["any"];
        }

        private string TypeRegex(string type, JsonElement s, string path) => type switch
        {
            "string" => StringRegex(s, path),
            "integer" => IntegerRegex(s, path),
            "number" => NumberRegex(s, path),
            "boolean" => Boolean,
            "null" => Null,
            "array" => ArrayRegex(s, path),
            "object" => ObjectRegex(s, path),
            "any" => AnyValue(maxDepth),
            _ => throw Bad(path, $"unknown type '{type}'"),
        };

        private static readonly string[] NumericKeywords = ["minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"];

        /// <summary>An integer within the schema's bounds, at most <see cref="MaxDigits"/> digits either way (bounds past that are cut to it).</summary>
        private static string IntegerRegex(JsonElement s, string path)
        {
            decimal? lower = Bound(s, "minimum", path), lowerExclusive = Bound(s, "exclusiveMinimum", path);
            decimal? upper = Bound(s, "maximum", path), upperExclusive = Bound(s, "exclusiveMaximum", path);
            if (lower is null && lowerExclusive is null && upper is null && upperExclusive is null) return Integer;
            decimal lo = -LargestBoundedInteger, hi = LargestBoundedInteger;
            if (lower is { } a) lo = Math.Max(lo, Math.Ceiling(a));
            if (lowerExclusive is { } b) lo = Math.Max(lo, Math.Floor(b) + 1);
            if (upper is { } c) hi = Math.Min(hi, Math.Floor(c));
            if (upperExclusive is { } d) hi = Math.Min(hi, Math.Ceiling(d) - 1);
            if (lo > hi) throw Bad(path, $"no integer of at most {MaxDigits} digits lies within 'minimum'/'maximum'");
            return IntegerRange.Signed((long)lo, (long)hi);
        }

        /// <summary>
        /// A number: bounded digits always; with minimum/maximum (integers only, inclusive) written without an exponent,
        /// so the bound can be exact: an integer part inside the range with any fraction, or the upper bound itself with zeros.
        /// </summary>
        private static string NumberRegex(JsonElement s, string path)
        {
            if (Bound(s, "exclusiveMinimum", path) is not null || Bound(s, "exclusiveMaximum", path) is not null)
                throw Bad(path, "'exclusiveMinimum'/'exclusiveMaximum' are supported for integers only");
            decimal? lower = Bound(s, "minimum", path), upper = Bound(s, "maximum", path);
            if (lower is null && upper is null) return Number;
            if ((lower is { } l && l != Math.Floor(l)) || (upper is { } u && u != Math.Floor(u)))
                throw Bad(path, "a number's 'minimum'/'maximum' must be whole numbers");
            long lo = (long)Math.Max(lower ?? -LargestBoundedInteger, -LargestBoundedInteger);
            long hi = (long)Math.Min(upper ?? LargestBoundedInteger, LargestBoundedInteger);
            if (lo > hi) throw Bad(path, $"no number with at most {MaxDigits} integer digits lies within 'minimum'/'maximum'");
            var parts = new List<string>();
            if (hi >= 0) parts.Add(Magnitudes(Math.Max(lo, 0), hi, upper is not null));
            if (lo < 0) parts.Add("-" + Magnitudes(hi < 0 ? -hi : 0, -lo, lower is not null));
            return "(?:" + string.Join("|", parts) + ")";
        }

        /// <summary>Non-negative decimals m with from &lt;= m &lt;= to (both whole); when to is a real bound, it takes only zero fractions.</summary>
        private static string Magnitudes(long from, long to, bool exactTop)
        {
            if (!exactTop) return IntegerRange.Unsigned(from, to) + $"(?:{Fraction})?";
            string top = IntegerRange.Unsigned(to, to) + @"(?:\.0{1,16})?";
            return from == to ? top : $"(?:{IntegerRange.Unsigned(from, to - 1)}(?:{Fraction})?|{top})";
        }

        private static decimal? Bound(JsonElement s, string key, string path)
        {
            if (!s.TryGetProperty(key, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Number)
                throw Bad(path, $"'{key}' must be a number (the draft-4 boolean form is not supported)");
            if (!v.TryGetDecimal(out decimal d)) throw Bad(path, $"'{key}' is out of range");
            return d;
        }

        private string StringRegex(JsonElement s, string path)
        {
            bool hasPattern = s.TryGetProperty("pattern", out var pattern);
            bool hasFormat = s.TryGetProperty("format", out var format);
            int min = NonNegative(s, "minLength", path) ?? 0;
            int? max = NonNegative(s, "maxLength", path);
            bool hasLength = min > 0 || max is not null;
            if ((hasPattern ? 1 : 0) + (hasFormat ? 1 : 0) + (hasLength ? 1 : 0) > 1)
                throw Bad(path, "combining 'pattern', 'format' and length limits is not supported");
            if (hasPattern)
            {
                if (pattern.ValueKind != JsonValueKind.String) throw Bad(path, "'pattern' must be a string");
                return "\"" + JsonStringPattern.ToRegex(pattern.GetString()!, budget.Limits) + "\"";
            }
            if (hasFormat)
            {
                string f = format.GetString() ?? "";
                return Formats.TryGetValue(f, out var regex) ? $"\"{regex}\"" : throw Bad(path, $"format '{f}' is not supported");
            }
            if (max is int m && m < min) throw Bad(path, "'maxLength' is less than 'minLength'");
            if (!hasLength) return String;
            return max is int mx ? $"\"{StringChar}{{{min},{mx}}}\"" : $"\"{StringChar}{{{min},}}\"";
        }

        private string ArrayRegex(JsonElement s, string path)
        {
            int min = NonNegative(s, "minItems", path) ?? 0;
            int max = NonNegative(s, "maxItems", path) ?? -1;
            if (max >= 0 && max < min) throw Bad(path, "'maxItems' is less than 'minItems'");
            string item = s.TryGetProperty("items", out var items)
                ? Translate(items, path + "/items")
                : AnyValue(maxDepth - 1);
            return ArrayOf(item, min, max);
        }

        private string ObjectRegex(JsonElement s, string path)
        {
            bool hasProps = s.TryGetProperty("properties", out var props);
            if (hasProps && props.ValueKind != JsonValueKind.Object) throw Bad(path, "'properties' must be an object");
            var required = new HashSet<string>();
            if (s.TryGetProperty("required", out var req))
            {
                if (req.ValueKind != JsonValueKind.Array || req.EnumerateArray().Any(r => r.ValueKind != JsonValueKind.String))
                    throw Bad(path, "'required' must be an array of strings");
                foreach (var r in req.EnumerateArray()) required.Add(r.GetString()!);
            }
            bool hasAdditional = s.TryGetProperty("additionalProperties", out var additional);
            if (!hasProps)
            {
                if (required.Count > 0) throw Bad(path, "'required' without 'properties' is not supported");
                if (!hasAdditional || additional.ValueKind == JsonValueKind.True) return AnyObject(maxDepth);
                if (additional.ValueKind == JsonValueKind.False) return @"\{\}";
                return MapObject(Translate(additional, path + "/additionalProperties"));
            }
            if (hasAdditional && additional.ValueKind != JsonValueKind.False)
                throw Bad(path, "'additionalProperties' other than false alongside 'properties' is not supported");

            var names = props.EnumerateObject().Select(p => p.Name).ToList();
            foreach (var r in required)
                if (!names.Contains(r)) throw Bad(path, $"required property '{r}' is not listed in 'properties'");
            var members = props.EnumerateObject()
                .Select(p => (Regex: "\"" + Escape(JsonEncodedKey(p.Name)) + "\"" + Colon + Translate(p.Value, $"{path}/properties/{p.Name}"),
                              Required: required.Contains(p.Name)))
                .ToList();
            return @"\{" + Members(members) + @"\}";
        }

        /// <summary>
        /// Properties in order, optional ones skippable, commas only between present ones. S(i): the rest
        /// after something was written (each present member takes a leading comma); N(i): nothing written yet.
        /// N repeats S for each optional member, so the text grows quadratically with them: checked at every step.
        /// </summary>
        private string Members(List<(string Regex, bool Required)> m)
        {
            string after = "", none = "";
            for (int i = m.Count - 1; i >= 0; i--)
            {
                none = Checked(m[i].Required ? m[i].Regex + after : $"(?:{m[i].Regex}{after}|{none})");
                after = Checked((m[i].Required ? $"{Comma}{m[i].Regex}" : $"(?:{Comma}{m[i].Regex})?") + after);
            }
            return none;
        }

        private string Ref(JsonElement reference, string path)
        {
            if (reference.ValueKind != JsonValueKind.String) throw Bad(path, "'$ref' must be a string");
            string r = reference.GetString()!;
            if (!r.StartsWith('#')) throw Bad(path, $"'$ref' '{r}' is not supported (only references inside this schema)");
            var target = root;
            foreach (var raw in r[1..].Split('/', StringSplitOptions.RemoveEmptyEntries))
            {
                string key = Uri.UnescapeDataString(raw).Replace("~1", "/").Replace("~0", "~");
                if (target.ValueKind == JsonValueKind.Object && target.TryGetProperty(key, out var child)) target = child;
                else if (target.ValueKind == JsonValueKind.Array && int.TryParse(key, out int idx) && idx >= 0 && idx < target.GetArrayLength()) target = target[idx];
                else throw Bad(path, $"'$ref' '{r}' does not resolve");
            }
            int active = _activeRefs.GetValueOrDefault(r);
            if (active >= maxDepth) return Never; // recursion unrolled far enough: this branch cannot be taken
            _activeRefs[r] = active + 1;
            try { return Translate(target, r); }
            finally { _activeRefs[r] = active; }
        }

        private static string Literal(JsonElement value) => JsonSerializer.Serialize(value, Compact);

        private static string JsonEncodedKey(string name)
        {
            string quoted = JsonSerializer.Serialize(name, Compact);
            return quoted[1..^1];
        }

        private static int? NonNegative(JsonElement s, string key, string path)
        {
            if (!s.TryGetProperty(key, out var v)) return null;
            if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt32(out int n) || n < 0)
                throw Bad(path, $"'{key}' must be a non-negative integer");
            return n;
        }

        private static GrammarException Bad(string path, string why) =>
            GrammarException.Invalid($"JSON schema at {path}: {why}");
    }
}
