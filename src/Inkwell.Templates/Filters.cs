using System.Globalization;
using System.Text;

namespace Inkwell.Templates;

/// <summary>Jinja's builtin filters (the ones chat templates use, with Jinja's argument names and defaults).</summary>
internal static class Filters
{
    private static readonly HashSet<string> Names =
    [
        "trim", "length", "count", "title", "upper", "lower", "capitalize", "default", "d", "join", "list", "first", "last",
        "reverse", "replace", "tojson", "string", "int", "float", "items", "dictsort", "selectattr", "rejectattr", "map",
        "select", "reject", "unique", "safe", "escape", "e", "forceescape", "abs", "round", "indent", "wordcount", "center",
        "truncate", "sum", "min", "max", "sort", "batch", "attr", "format", "pprint", "striptags", "bool",
    ];

    public static bool Exists(string name) => Names.Contains(name);

    public static object? Apply(Evaluator evaluator, string name, object? value, CallArgs args)
    {
        var maxLength = evaluator.Options.MaxOutputChars;
        switch (name)
        {
            case "trim":
                args.Check(name, 1, "chars");
                return Methods.Strip(Text(value), args.Get(0, "chars"), true, true);
            case "length" or "count":
                args.Check(name, 0);
                return Values.Length(value);
            case "title":
                args.Check(name, 0);
                return JinjaTitle(Text(value));
            case "upper":
                args.Check(name, 0);
                return Text(value).ToUpperInvariant();
            case "lower":
                args.Check(name, 0);
                return Text(value).ToLowerInvariant();
            case "capitalize":
                args.Check(name, 0);
                return Methods.Capitalize(Text(value));
            case "default" or "d":
                {
                    args.Check(name, 2, "default_value", "boolean");
                    var useFallback = Values.IsTruthy(args.Get(1, "boolean", false)) ? !Values.IsTruthy(value) : value is Undefined;
                    return useFallback ? args.Get(0, "default_value", "") : value;
                }
            case "join":
                {
                    args.Check(name, 2, "d", "attribute");
                    var separator = Values.ToText(args.Get(0, "d", ""));
                    var items = Values.Iterate(value);
                    if (args.Get(1, "attribute") is { } attribute) items = [.. items.Select(item => AttributeOrItem(item, attribute))];
                    return CheckLength(string.Join(separator, items.Select(Values.ToText)), maxLength);
                }
            case "list":
                args.Check(name, 0);
                return new TemplateList(Values.Iterate(value));
            case "first":
                {
                    args.Check(name, 0);
                    var items = Values.Iterate(value);
                    return items.Count > 0 ? items[0] : new Undefined("first of an empty sequence");
                }
            case "last":
                {
                    args.Check(name, 0);
                    var items = Values.Iterate(value);
                    return items.Count > 0 ? items[^1] : new Undefined("last of an empty sequence");
                }
            case "reverse":
                args.Check(name, 0);
                if (value is string s)
                {
                    var chars = s.ToCharArray();
                    Array.Reverse(chars);
                    return new string(chars);
                }
                return new TemplateList(Values.Iterate(value).Reverse());
            case "replace":
                args.Check(name, 3, "old", "new", "count");
                return Methods.Replace(Text(value), Values.ToText(args.Get(0, "old")), Values.ToText(args.Get(1, "new")), args.Get(2, "count"), maxLength);
            case "tojson":
                {
                    args.Check(name, 1, "indent", "ensure_ascii", "sort_keys", "separators");
                    var indent = args.Get(0, "indent") switch
                    {
                        null or Undefined => null,
                        long n => new string(' ', (int)Math.Clamp(n, 0, 64)),
                        string text => text,
                        var other => throw new TemplateRuntimeException($"tojson indent must be an integer or string, not {Values.TypeName(other)}"),
                    };
                    string? itemSeparator = null, keySeparator = null;
                    if (args.Get(0, "separators") is TemplateList { Count: 2 } separators)
                    {
                        itemSeparator = Values.ToText(separators[0]);
                        keySeparator = Values.ToText(separators[1]);
                    }
                    return CheckLength(
                        Json.Serialize(value, indent, Values.IsTruthy(args.Get(99, "sort_keys", false)), Values.IsTruthy(args.Get(99, "ensure_ascii", false)), itemSeparator, keySeparator),
                        maxLength);
                }
            case "string":
                args.Check(name, 0);
                return Values.ToText(value);
            case "int":
                args.Check(name, 2, "default", "base");
                return ToInteger(value, args.Get(0, "default", 0L), (int)Values.ToDouble(args.Get(1, "base", 10L)));
            case "float":
                args.Check(name, 1, "default");
                return ToFloat(value, args.Get(0, "default", 0.0));
            case "bool":
                args.Check(name, 0);
                return Values.IsTruthy(value);
            case "items":
                args.Check(name, 0);
                return value switch
                {
                    TemplateDict dict => Methods.Items(dict),
                    Undefined => new TemplateList(),
                    _ => throw new TemplateRuntimeException($"items expects a dict, got {Values.TypeName(value)}"),
                };
            case "dictsort":
                return DictSort(value, args);
            case "selectattr" or "rejectattr":
                return SelectAttribute(value, args, keep: name == "selectattr");
            case "select" or "reject":
                return Select(value, args, keep: name == "select");
            case "map":
                return Map(evaluator, value, args);
            case "unique":
                return Unique(value, args);
            case "safe":
                args.Check(name, 0);
                return value; // no autoescaping in chat templates, so "safe" has nothing to undo
            case "escape" or "e" or "forceescape":
                args.Check(name, 0);
                return HtmlEscape(Values.ToText(value));
            case "striptags":
                args.Check(name, 0);
                return string.Join(' ', System.Text.RegularExpressions.Regex.Replace(Values.ToText(value), "<[^>]*>", "")
                    .Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
            case "abs":
                args.Check(name, 0);
                return value switch
                {
                    long l => l == long.MinValue ? throw new TemplateRuntimeException("integer overflow") : (object)Math.Abs(l),
                    double d => Math.Abs(d),
                    bool b => b ? 1L : 0L,
                    _ => throw new TemplateRuntimeException($"abs expects a number, got {Values.TypeName(value)}"),
                };
            case "round":
                return Round(value, args);
            case "indent":
                return Indent(Values.ToText(value), args);
            case "wordcount":
                args.Check(name, 0);
                return (long)System.Text.RegularExpressions.Regex.Matches(Values.ToText(value), @"\w+").Count;
            case "center":
                args.Check(name, 1, "width");
                return Methods.Center(Values.ToText(value), (int)Math.Min(Values.ToDouble(args.Get(0, "width", 80L)), maxLength));
            case "truncate":
                return Truncate(Values.ToText(value), args);
            case "sum":
                {
                    args.Check(name, 2, "attribute", "start");
                    object? total = args.Get(1, "start", 0L);
                    var attribute = args.Get(0, "attribute");
                    foreach (var item in Values.Iterate(value))
                    {
                        total = Operators.Binary(BinaryOperator.Add, total, attribute is null ? item : AttributeOrItem(item, attribute), maxLength);
                    }
                    return total;
                }
            case "min" or "max":
                {
                    args.Check(name, 2, "case_sensitive", "attribute");
                    var items = Sorted(Values.Iterate(value), Values.IsTruthy(args.Get(0, "case_sensitive", false)), args.Get(1, "attribute"), false);
                    if (items.Count == 0) return new Undefined($"{name} of an empty sequence");
                    return name == "min" ? items[0] : items[^1];
                }
            case "sort":
                args.Check(name, 3, "reverse", "case_sensitive", "attribute");
                return new TemplateList(Sorted(Values.Iterate(value), Values.IsTruthy(args.Get(1, "case_sensitive", false)), args.Get(2, "attribute"), Values.IsTruthy(args.Get(0, "reverse", false))));
            case "batch":
                {
                    args.Check(name, 2, "linecount", "fill_with");
                    var size = (long)Values.ToDouble(args.Get(0, "linecount"));
                    if (size <= 0) throw new TemplateRuntimeException("batch size must be positive");
                    var result = new TemplateList();
                    var items = Values.Iterate(value);
                    for (var i = 0; i < items.Count; i += (int)Math.Min(size, int.MaxValue))
                    {
                        var chunk = new TemplateList(items.Skip(i).Take((int)Math.Min(size, int.MaxValue)));
                        if (args.Has(1, "fill_with")) while (chunk.Count < size) chunk.Add(args.Get(1, "fill_with"));
                        result.Add(chunk);
                    }
                    return result;
                }
            case "attr":
                args.Check(name, 1, "name");
                return Access.GetAttribute(value, Values.ToText(args.Get(0, "name")));
            case "format":
                {
                    if (args.Named.Count > 0) throw new TemplateRuntimeException("the format filter takes positional arguments only");
                    return Formatting.Printf(Text(value), new TemplateList(args.Positional) { IsTuple = true });
                }
            case "pprint":
                args.Check(name, 0);
                return Values.Repr(value);
            default:
                throw new TemplateRuntimeException($"unknown filter '{name}'");
        }
    }

    /// <summary>String filters accept any value the way Jinja does: through str(); undefined becomes "".</summary>
    private static string Text(object? value) => Values.ToText(value);

    private static string CheckLength(string text, int maxLength) =>
        text.Length > maxLength ? throw new TemplateRuntimeException($"string longer than {maxLength} characters") : text;

    /// <summary>Jinja's title filter: each word (split at whitespace, '-', and opening brackets) gets one capital.</summary>
    private static string JinjaTitle(string text)
    {
        var builder = new StringBuilder(text.Length);
        var atWordStart = true;
        foreach (var c in text)
        {
            var isSeparator = char.IsWhiteSpace(c) || c is '-' or '(' or '{' or '[' or '<';
            builder.Append(isSeparator ? c : atWordStart ? char.ToUpperInvariant(c) : char.ToLowerInvariant(c));
            atWordStart = isSeparator;
        }
        return builder.ToString();
    }

    private static object? AttributeOrItem(object? item, object attribute)
    {
        // Jinja accepts dotted paths ("function.name") and integer indexes here.
        if (attribute is long index) return Access.GetItem(item, index);
        var current = item;
        foreach (var part in Values.ToText(attribute).Split('.'))
        {
            current = long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var i) && current is TemplateList
                ? Access.GetItem(current, i)
                : Access.GetItem(current, part);
        }
        return current;
    }

    private static object? ToInteger(object? value, object? fallback, int numberBase)
    {
        switch (value)
        {
            case long l: return l;
            case bool b: return b ? 1L : 0L;
            case double d: return double.IsFinite(d) && Math.Abs(d) < 9.2e18 ? (long)Math.Truncate(d) : fallback;
            case string s:
                {
                    var text = s.Trim().Replace("_", "");
                    if (numberBase == 10)
                    {
                        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed)) return parsed;
                        if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var asFloat) && double.IsFinite(asFloat))
                        {
                            return (long)Math.Truncate(asFloat);
                        }
                        return fallback;
                    }
                    try
                    {
                        var digits = text.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || text.StartsWith("0o", StringComparison.OrdinalIgnoreCase)
                            || text.StartsWith("0b", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
                        return numberBase is 2 or 8 or 16 ? Convert.ToInt64(digits, numberBase) : fallback;
                    }
                    catch (Exception e) when (e is FormatException or OverflowException or ArgumentException)
                    {
                        return fallback;
                    }
                }
            default: return fallback;
        }
    }

    private static object? ToFloat(object? value, object? fallback) => value switch
    {
        long l => (double)l,
        double d => d,
        bool b => b ? 1.0 : 0.0,
        string s when double.TryParse(s.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => fallback,
    };

    private static TemplateList DictSort(object? value, CallArgs args)
    {
        args.Check("dictsort", 3, "case_sensitive", "by", "reverse");
        if (value is not TemplateDict dict) throw new TemplateRuntimeException($"dictsort expects a dict, got {Values.TypeName(value)}");
        var caseSensitive = Values.IsTruthy(args.Get(0, "case_sensitive", false));
        var byValue = Values.ToText(args.Get(1, "by", "key")) switch
        {
            "key" => false,
            "value" => true,
            var other => throw new TemplateRuntimeException($"dictsort 'by' must be 'key' or 'value', not '{other}'"),
        };
        var pairs = Methods.Items(dict).ToList();
        var sorted = pairs.Order(Comparer<object?>.Create((a, b) =>
            Values.Compare(SortKey(((TemplateList)a!)[byValue ? 1 : 0], caseSensitive), SortKey(((TemplateList)b!)[byValue ? 1 : 0], caseSensitive)))).ToList();
        if (Values.IsTruthy(args.Get(2, "reverse", false))) sorted.Reverse();
        return new TemplateList(sorted);
    }

    private static object? SortKey(object? value, bool caseSensitive) => !caseSensitive && value is string s ? s.ToLowerInvariant() : value;

    private static List<object?> Sorted(IReadOnlyList<object?> items, bool caseSensitive, object? attribute, bool reverse)
    {
        var keyed = items.Select(item => (Item: item, Key: SortKey(attribute is null ? item : AttributeOrItem(item, attribute), caseSensitive))).ToList();
        // A stable sort, like Python's.
        var sorted = keyed.Order(Comparer<(object? Item, object? Key)>.Create((a, b) => Values.Compare(a.Key, b.Key))).Select(p => p.Item).ToList();
        if (reverse) sorted.Reverse();
        return sorted;
    }

    /// <summary>Runs the test named by args[offset] (with the remaining arguments) on an item; no test means truthiness.</summary>
    private static bool RunTest(object? item, CallArgs args, int offset)
    {
        if (args.Positional.Count <= offset) return Values.IsTruthy(item);
        var testName = args.Positional[offset] as string ?? throw new TemplateRuntimeException("the test name must be a string");
        var testArgs = new CallArgs(args.Positional.Skip(offset + 1).ToList(), args.Named);
        return JinjaTests.Apply(testName, item, testArgs);
    }

    private static TemplateList SelectAttribute(object? value, CallArgs args, bool keep)
    {
        if (args.Positional.Count == 0) throw new TemplateRuntimeException($"{(keep ? "selectattr" : "rejectattr")} needs an attribute name");
        var attribute = args.Positional[0]!;
        var result = new TemplateList();
        foreach (var item in Values.Iterate(value))
        {
            if (RunTest(AttributeOrItem(item, attribute), args, 1) == keep) result.Add(item);
        }
        return result;
    }

    private static TemplateList Select(object? value, CallArgs args, bool keep)
    {
        var result = new TemplateList();
        foreach (var item in Values.Iterate(value))
        {
            if (RunTest(item, args, 0) == keep) result.Add(item);
        }
        return result;
    }

    private static TemplateList Map(Evaluator evaluator, object? value, CallArgs args)
    {
        var result = new TemplateList();
        var items = Values.Iterate(value);
        if (args.Positional.Count == 0)
        {
            args.Check("map", 0, "attribute", "default");
            var attribute = args.Get(99, "attribute") ?? throw new TemplateRuntimeException("map needs a filter name or attribute=");
            var hasDefault = args.Has(99, "default");
            foreach (var item in items)
            {
                var mapped = AttributeOrItem(item, attribute);
                result.Add(mapped is Undefined && hasDefault ? args.Get(99, "default") : mapped);
            }
            return result;
        }
        var filterName = args.Positional[0] as string ?? throw new TemplateRuntimeException("map's filter name must be a string");
        var filterArgs = new CallArgs(args.Positional.Skip(1).ToList(), args.Named);
        foreach (var item in items) result.Add(Apply(evaluator, filterName, item, filterArgs));
        return result;
    }

    private static TemplateList Unique(object? value, CallArgs args)
    {
        args.Check("unique", 2, "case_sensitive", "attribute");
        var caseSensitive = Values.IsTruthy(args.Get(0, "case_sensitive", false));
        var attribute = args.Get(1, "attribute");
        var seen = new TemplateList();
        var result = new TemplateList();
        foreach (var item in Values.Iterate(value))
        {
            var key = SortKey(attribute is null ? item : AttributeOrItem(item, attribute), caseSensitive);
            if (seen.Any(k => Values.AreEqual(k, key))) continue;
            seen.Add(key);
            result.Add(item);
        }
        return result;
    }

    private static string HtmlEscape(string text) => text
        .Replace("&", "&amp;").Replace("<", "&lt;").Replace(">", "&gt;").Replace("\"", "&#34;").Replace("'", "&#39;");

    private static double Round(object? value, CallArgs args)
    {
        args.Check("round", 2, "precision", "method");
        var number = Values.ToDouble(value);
        var precision = (int)Math.Clamp(Values.ToDouble(args.Get(0, "precision", 0L)), 0, 15);
        var factor = Math.Pow(10, precision);
        return Values.ToText(args.Get(1, "method", "common")) switch
        {
            "common" => Math.Round(number, precision, MidpointRounding.ToEven), // Python's round(): half to even
            "ceil" => Math.Ceiling(number * factor) / factor,
            "floor" => Math.Floor(number * factor) / factor,
            var other => throw new TemplateRuntimeException($"round method must be 'common', 'ceil' or 'floor', not '{other}'"),
        };
    }

    private static string Indent(string text, CallArgs args)
    {
        args.Check("indent", 3, "width", "first", "blank");
        var prefix = args.Get(0, "width", 4L) switch
        {
            string s => s,
            var width => new string(' ', (int)Math.Clamp(Values.ToDouble(width), 0, 1024)),
        };
        var first = Values.IsTruthy(args.Get(1, "first", false));
        var blank = Values.IsTruthy(args.Get(2, "blank", false));
        var lines = text.Split('\n');
        var builder = new StringBuilder();
        for (var i = 0; i < lines.Length; i++)
        {
            if (i > 0) builder.Append('\n');
            var line = lines[i];
            var indentThis = (i > 0 || first) && (blank || line.Trim().Length > 0);
            if (indentThis) builder.Append(prefix);
            builder.Append(line);
        }
        return builder.ToString();
    }

    private static string Truncate(string text, CallArgs args)
    {
        args.Check("truncate", 4, "length", "killwords", "end", "leeway");
        var length = (int)Math.Clamp(Values.ToDouble(args.Get(0, "length", 255L)), 0, int.MaxValue);
        var killWords = Values.IsTruthy(args.Get(1, "killwords", false));
        var end = Values.ToText(args.Get(2, "end", "..."));
        var leeway = (int)Values.ToDouble(args.Get(3, "leeway", 5L));
        if (text.Length <= length + leeway) return text;
        var keep = Math.Max(0, length - end.Length);
        if (killWords) return text[..keep] + end;
        var cut = text[..keep];
        var space = cut.LastIndexOf(' ');
        return (space >= 0 ? cut[..space] : cut) + end;
    }
}
