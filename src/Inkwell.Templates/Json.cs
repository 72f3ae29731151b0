using System.Globalization;
using System.Text;

namespace Inkwell.Templates;

/// <summary>
/// The tojson filter as Hugging Face defines it: Python's json.dumps with ensure_ascii=False (non-ASCII kept),
/// no HTML escaping, separators ", " and ": " (or "," between items when indenting), keys in insertion order.
/// </summary>
internal static class Json
{
    private const int MaxDepth = 128;

    public static string Serialize(object? value, string? indent, bool sortKeys, bool ensureAscii, string? itemSeparator, string? keySeparator)
    {
        var builder = new StringBuilder();
        var items = itemSeparator ?? (indent is null ? ", " : ",");
        var keys = keySeparator ?? ": ";
        Write(builder, value, indent, sortKeys, ensureAscii, items, keys, 0);
        return builder.ToString();
    }

    private static void Write(StringBuilder builder, object? value, string? indent, bool sortKeys, bool ensureAscii, string items, string keys, int depth)
    {
        if (depth > MaxDepth) throw new TemplateRuntimeException("value nests too deeply for tojson");
        switch (value)
        {
            case null: builder.Append("null"); break;
            case bool b: builder.Append(b ? "true" : "false"); break;
            case long l: builder.Append(l.ToString(CultureInfo.InvariantCulture)); break;
            case double d:
                builder.Append(double.IsNaN(d) ? "NaN" : double.IsPositiveInfinity(d) ? "Infinity" : double.IsNegativeInfinity(d) ? "-Infinity" : Values.FormatFloat(d));
                break;
            case string s: WriteString(builder, s, ensureAscii); break;
            case TemplateList list:
                if (list.Count == 0)
                {
                    builder.Append("[]");
                    break;
                }
                builder.Append('[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) builder.Append(items);
                    NewLine(builder, indent, depth + 1);
                    Write(builder, list[i], indent, sortKeys, ensureAscii, items, keys, depth + 1);
                }
                NewLine(builder, indent, depth);
                builder.Append(']');
                break;
            case TemplateDict dict:
                if (dict.Count == 0)
                {
                    builder.Append("{}");
                    break;
                }
                builder.Append('{');
                var entries = dict.Select(p => (Key: KeyText(p.Key), p.Value));
                if (sortKeys) entries = entries.OrderBy(p => p.Key, StringComparer.Ordinal);
                var first = true;
                foreach (var (key, item) in entries)
                {
                    if (!first) builder.Append(items);
                    first = false;
                    NewLine(builder, indent, depth + 1);
                    WriteString(builder, key, ensureAscii);
                    builder.Append(keys);
                    Write(builder, item, indent, sortKeys, ensureAscii, items, keys, depth + 1);
                }
                NewLine(builder, indent, depth);
                builder.Append('}');
                break;
            case Namespace ns:
                var asDict = new TemplateDict();
                foreach (var (key, item) in ns.Attributes) asDict[key] = item;
                Write(builder, asDict, indent, sortKeys, ensureAscii, items, keys, depth);
                break;
            case Undefined undefined:
                throw new TemplateRuntimeException($"tojson cannot serialize an undefined value ({undefined.Description})");
            default:
                throw new TemplateRuntimeException($"tojson cannot serialize a {Values.TypeName(value)}");
        }
    }

    private static string KeyText(object key) => key switch
    {
        string s => s,
        bool b => b ? "true" : "false",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => Values.FormatFloat(d),
        _ => throw new TemplateRuntimeException($"tojson keys must be strings, numbers or bools, not {Values.TypeName(key)}"),
    };

    private static void NewLine(StringBuilder builder, string? indent, int depth)
    {
        if (indent is null) return;
        builder.Append('\n');
        for (var i = 0; i < depth; i++) builder.Append(indent);
    }

    private static void WriteString(StringBuilder builder, string s, bool ensureAscii)
    {
        builder.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': builder.Append("\\\""); break;
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                case '\b': builder.Append("\\b"); break;
                case '\f': builder.Append("\\f"); break;
                default:
                    if (c < 0x20 || (ensureAscii && c > 0x7f)) builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else builder.Append(c);
                    break;
            }
        }
        builder.Append('"');
    }
}
