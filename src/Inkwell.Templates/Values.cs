using System.Collections;
using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Inkwell.Templates;

// Runtime values are plain objects: null (none), bool, long, double, string, TemplateList, TemplateDict,
// Undefined, Namespace, LoopContext and TemplateCallable. Inputs from callers are converted once, at the
// boundary, by Values.FromDotNet.

/// <summary>A missing value, like Jinja's Undefined: falsy, prints as empty, iterates as empty, and its attributes are undefined too.</summary>
internal sealed class Undefined(string description)
{
    /// <summary>What was missing, for error messages ("'foo' is undefined").</summary>
    public string Description { get; } = description;

    public static Undefined Named(string name) => new($"'{name}' is undefined");
}

/// <summary>A list; tuples are lists that remember they were written as tuples (only affects printing).</summary>
internal sealed class TemplateList : List<object?>
{
    public TemplateList() { }

    public TemplateList(IEnumerable<object?> items) : base(items) { }

    public bool IsTuple { get; init; }
}

/// <summary>An insertion-ordered dictionary with Python-like key equality (1 == 1.0, "a" != 1).</summary>
internal sealed class TemplateDict : OrderedDictionary<object, object?>
{
    public TemplateDict() : base(KeyComparer.Instance) { }

    public object? GetOrUndefined(object? key) =>
        key is not null && TryGetValue(key, out var value) ? value : new Undefined($"key {Templates.Values.Repr(key)} is missing");

    private sealed class KeyComparer : IEqualityComparer<object>
    {
        public static KeyComparer Instance { get; } = new();

        public new bool Equals(object? x, object? y) => Templates.Values.AreEqual(x, y);

        public int GetHashCode(object obj) => obj switch
        {
            string s => s.GetHashCode(StringComparison.Ordinal),
            bool b => (b ? 1.0 : 0.0).GetHashCode(),
            long l => ((double)l).GetHashCode(),
            double d => d.GetHashCode(),
            _ => 0, // lists and other unhashable-in-Python keys: rare, fall back to linear equality
        };
    }
}

/// <summary>namespace(...): the one mutable object a template can assign attributes on from inner scopes.</summary>
internal sealed class Namespace
{
    public Dictionary<string, object?> Attributes { get; } = new(StringComparer.Ordinal);
}

/// <summary>Something a template can call: a macro, a global function, a bound method, caller().</summary>
internal abstract class TemplateCallable
{
    public abstract string Name { get; }

    public abstract object? Invoke(Evaluator evaluator, CallArgs args, Node at);
}

/// <summary>Evaluated call arguments with the checks every builtin needs.</summary>
internal sealed class CallArgs(List<object?> positional, List<KeyValuePair<string, object?>> named)
{
    public static CallArgs Empty => new([], []);

    public List<object?> Positional { get; } = positional;

    public List<KeyValuePair<string, object?>> Named { get; } = named;

    public int Count => Positional.Count + Named.Count;

    /// <summary>The argument at position <paramref name="index"/> or named <paramref name="name"/>, else the fallback.</summary>
    public object? Get(int index, string name, object? fallback = null)
    {
        foreach (var pair in Named)
        {
            if (pair.Key == name) return pair.Value;
        }
        return index < Positional.Count ? Positional[index] : fallback;
    }

    public bool Has(int index, string name)
    {
        if (index < Positional.Count) return true;
        foreach (var pair in Named)
        {
            if (pair.Key == name) return true;
        }
        return false;
    }

    /// <summary>Rejects more positional arguments than <paramref name="max"/> or unknown keywords.</summary>
    public void Check(string function, int max, params string[] names)
    {
        if (Positional.Count > max)
        {
            throw new TemplateRuntimeException($"{function}() takes at most {max} positional argument{(max == 1 ? "" : "s")}, got {Positional.Count}");
        }
        foreach (var pair in Named)
        {
            if (Array.IndexOf(names, pair.Key) < 0) throw new TemplateRuntimeException($"{function}() got an unexpected keyword argument '{pair.Key}'");
        }
    }
}

/// <summary>
/// A runtime error raised deep inside value code that does not know the source position; the evaluator
/// turns it into a <see cref="TemplateException"/> at the node being evaluated.
/// </summary>
internal sealed class TemplateRuntimeException(string problem, bool raisedByTemplate = false) : Exception(problem)
{
    public bool RaisedByTemplate { get; } = raisedByTemplate;
}

/// <summary>The <c>loop</c> variable inside a for loop.</summary>
internal sealed class LoopContext(IReadOnlyList<object?> items, int depth, LoopContext? parent)
{
    public int Index0 { get; set; }

    public int Length => items.Count;

    public int Depth => depth;

    public LoopContext? Parent => parent;

    public TemplateCallable? RecursiveCall { get; set; }

    public object? GetAttribute(string name) => name switch
    {
        "index" => (long)(Index0 + 1),
        "index0" => (long)Index0,
        "revindex" => (long)(Length - Index0),
        "revindex0" => (long)(Length - Index0 - 1),
        "first" => Index0 == 0,
        "last" => Index0 == Length - 1,
        "length" => (long)Length,
        "depth" => (long)depth,
        "depth0" => (long)(depth - 1),
        "previtem" => Index0 > 0 ? items[Index0 - 1] : new Undefined("there is no previous item"),
        "nextitem" => Index0 + 1 < Length ? items[Index0 + 1] : new Undefined("there is no next item"),
        "cycle" => new CycleFunction(this),
        "changed" => new Undefined("loop.changed is not supported"),
        _ => new Undefined($"loop has no attribute '{name}'"),
    };

    private sealed class CycleFunction(LoopContext loop) : TemplateCallable
    {
        public override string Name => "loop.cycle";

        public override object? Invoke(Evaluator evaluator, CallArgs args, Node at)
        {
            if (args.Positional.Count == 0) throw new TemplateRuntimeException("loop.cycle() needs at least one value");
            return args.Positional[loop.Index0 % args.Positional.Count];
        }
    }
}

/// <summary>Python/Jinja semantics for truthiness, equality, ordering, printing and conversion.</summary>
internal static class Values
{
    private const int MaxInputDepth = 128;

    public static bool IsTruthy(object? value) => value switch
    {
        null => false,
        Undefined => false,
        bool b => b,
        long l => l != 0,
        double d => d != 0,
        string s => s.Length > 0,
        ICollection c => c.Count > 0,
        _ => true,
    };

    public static bool IsNumber(object? value) => value is long or double or bool;

    public static double ToDouble(object? value) => value switch
    {
        long l => l,
        double d => d,
        bool b => b ? 1 : 0,
        _ => throw new TemplateRuntimeException($"expected a number, got {TypeName(value)}"),
    };

    public static string TypeName(object? value) => value switch
    {
        null => "none",
        Undefined => "undefined",
        bool => "bool",
        long => "int",
        double => "float",
        string => "string",
        TemplateList { IsTuple: true } => "tuple",
        TemplateList => "list",
        TemplateDict => "dict",
        Namespace => "namespace",
        LoopContext => "loop",
        TemplateCallable => "function",
        _ => value.GetType().Name,
    };

    public static bool AreEqual(object? a, object? b)
    {
        if (a is null || b is null) return a is null && b is null;
        if (IsNumber(a) && IsNumber(b))
        {
            return a is long la && b is long lb ? la == lb : ToDouble(a) == ToDouble(b);
        }
        switch (a)
        {
            case string sa:
                return b is string sb && sa == sb;
            case Undefined:
                return b is Undefined;
            case TemplateList la:
                if (b is not TemplateList lb || la.Count != lb.Count) return false;
                for (var i = 0; i < la.Count; i++)
                {
                    if (!AreEqual(la[i], lb[i])) return false;
                }
                return true;
            case TemplateDict da:
                if (b is not TemplateDict db || da.Count != db.Count) return false;
                foreach (var (key, value) in da)
                {
                    if (!db.TryGetValue(key, out var other) || !AreEqual(value, other)) return false;
                }
                return true;
            default:
                return ReferenceEquals(a, b);
        }
    }

    /// <summary>Ordering for &lt; &gt; and sorting: numbers, strings (ordinal) and lists of those.</summary>
    public static int Compare(object? a, object? b)
    {
        if (IsNumber(a) && IsNumber(b))
        {
            return a is long la && b is long lb ? la.CompareTo(lb) : ToDouble(a).CompareTo(ToDouble(b));
        }
        if (a is string sa && b is string sb) return string.CompareOrdinal(sa, sb);
        if (a is TemplateList xa && b is TemplateList xb)
        {
            for (var i = 0; i < Math.Min(xa.Count, xb.Count); i++)
            {
                var c = Compare(xa[i], xb[i]);
                if (c != 0) return c;
            }
            return xa.Count.CompareTo(xb.Count);
        }
        throw new TemplateRuntimeException($"cannot compare {TypeName(a)} with {TypeName(b)}");
    }

    /// <summary>str(value): what {{ value }} prints.</summary>
    public static string ToText(object? value) => value switch
    {
        string s => s,
        Undefined => "",
        null => "None",
        bool b => b ? "True" : "False",
        long l => l.ToString(CultureInfo.InvariantCulture),
        double d => FormatFloat(d),
        _ => Repr(value),
    };

    /// <summary>repr(value), as Python prints values nested in lists and dicts.</summary>
    public static string Repr(object? value)
    {
        var builder = new StringBuilder();
        AppendRepr(builder, value, 0);
        return builder.ToString();
    }

    private static void AppendRepr(StringBuilder builder, object? value, int depth)
    {
        if (depth > MaxInputDepth) throw new TemplateRuntimeException("value nests too deeply to print");
        switch (value)
        {
            case string s:
                AppendStringRepr(builder, s);
                break;
            case TemplateList list:
                builder.Append(list.IsTuple ? '(' : '[');
                for (var i = 0; i < list.Count; i++)
                {
                    if (i > 0) builder.Append(", ");
                    AppendRepr(builder, list[i], depth + 1);
                }
                if (list.IsTuple && list.Count == 1) builder.Append(',');
                builder.Append(list.IsTuple ? ')' : ']');
                break;
            case TemplateDict dict:
                builder.Append('{');
                var first = true;
                foreach (var (key, item) in dict)
                {
                    if (!first) builder.Append(", ");
                    first = false;
                    AppendRepr(builder, key, depth + 1);
                    builder.Append(": ");
                    AppendRepr(builder, item, depth + 1);
                }
                builder.Append('}');
                break;
            case Namespace ns:
                builder.Append("<Namespace {");
                builder.AppendJoin(", ", ns.Attributes.Select(p => $"'{p.Key}': {Repr(p.Value)}"));
                builder.Append("}>");
                break;
            case TemplateCallable callable:
                builder.Append("<function ").Append(callable.Name).Append('>');
                break;
            case LoopContext:
                builder.Append("<LoopContext>");
                break;
            default:
                builder.Append(ToText(value));
                break;
        }
    }

    private static void AppendStringRepr(StringBuilder builder, string s)
    {
        var quote = s.Contains('\'') && !s.Contains('"') ? '"' : '\'';
        builder.Append(quote);
        foreach (var c in s)
        {
            switch (c)
            {
                case '\\': builder.Append("\\\\"); break;
                case '\n': builder.Append("\\n"); break;
                case '\r': builder.Append("\\r"); break;
                case '\t': builder.Append("\\t"); break;
                default:
                    if (c == quote) builder.Append('\\').Append(c);
                    else if (c < 0x20 || c == 0x7f) builder.Append("\\x").Append(((int)c).ToString("x2", CultureInfo.InvariantCulture));
                    else builder.Append(c);
                    break;
            }
        }
        builder.Append(quote);
    }

    /// <summary>Python's repr(float): shortest round-trip digits, fixed notation for exponents in [-4, 16).</summary>
    public static string FormatFloat(double value)
    {
        if (double.IsNaN(value)) return "nan";
        if (double.IsPositiveInfinity(value)) return "inf";
        if (double.IsNegativeInfinity(value)) return "-inf";
        if (value == 0) return double.IsNegative(value) ? "-0.0" : "0.0";

        var sign = value < 0 ? "-" : "";
        var roundTrip = Math.Abs(value).ToString("R", CultureInfo.InvariantCulture);
        string digits;
        int pointPosition; // digits[..pointPosition] is the integer part
        var e = roundTrip.IndexOf('E');
        if (e >= 0)
        {
            var mantissa = roundTrip[..e];
            var exponent = int.Parse(roundTrip[(e + 1)..], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
            var dot = mantissa.IndexOf('.');
            digits = mantissa.Replace(".", "");
            pointPosition = (dot < 0 ? mantissa.Length : dot) + exponent;
        }
        else
        {
            var dot = roundTrip.IndexOf('.');
            var integerPart = dot < 0 ? roundTrip : roundTrip[..dot];
            var fraction = dot < 0 ? "" : roundTrip[(dot + 1)..];
            digits = integerPart + fraction;
            pointPosition = integerPart.Length;
        }
        var leadingZeros = digits.Length - digits.TrimStart('0').Length;
        digits = digits.Trim('0');
        pointPosition -= leadingZeros;
        if (digits.Length == 0) return "0.0";

        var decimalExponent = pointPosition - 1;
        if (decimalExponent is >= -4 and < 16)
        {
            if (pointPosition <= 0) return $"{sign}0.{new string('0', -pointPosition)}{digits}";
            if (pointPosition >= digits.Length) return $"{sign}{digits}{new string('0', pointPosition - digits.Length)}.0";
            return $"{sign}{digits[..pointPosition]}.{digits[pointPosition..]}";
        }
        var fractionDigits = digits.Length > 1 ? "." + digits[1..] : "";
        var exponentSign = decimalExponent < 0 ? "-" : "+";
        return $"{sign}{digits[0]}{fractionDigits}e{exponentSign}{Math.Abs(decimalExponent):00}";
    }

    /// <summary>The items a for loop or a filter walks: list items, dict keys, string characters; undefined is empty.</summary>
    public static IReadOnlyList<object?> Iterate(object? value) => value switch
    {
        TemplateList list => list,
        TemplateDict dict => [.. dict.Keys],
        string s => EnumerateTextElements(s),
        Undefined => [],
        Namespace ns => [.. ns.Attributes.Keys],
        _ => throw new TemplateRuntimeException($"{TypeName(value)} is not iterable"),
    };

    private static List<object?> EnumerateTextElements(string s)
    {
        var result = new List<object?>(s.Length);
        for (var i = 0; i < s.Length; i++)
        {
            // Keep surrogate pairs together: Python iterates code points.
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1]))
            {
                result.Add(s.Substring(i++, 2));
            }
            else
            {
                result.Add(s[i].ToString());
            }
        }
        return result;
    }

    /// <summary>len(value); undefined has length 0 like Jinja's Undefined.</summary>
    public static long Length(object? value) => value switch
    {
        string s => CodePointCount(s),
        TemplateList list => list.Count,
        TemplateDict dict => dict.Count,
        Undefined => 0,
        Namespace ns => ns.Attributes.Count,
        _ => throw new TemplateRuntimeException($"object of type {TypeName(value)} has no length"),
    };

    private static long CodePointCount(string s)
    {
        long count = 0;
        for (var i = 0; i < s.Length; i++)
        {
            if (char.IsHighSurrogate(s[i]) && i + 1 < s.Length && char.IsLowSurrogate(s[i + 1])) i++;
            count++;
        }
        return count;
    }

    /// <summary>Converts caller data (plain .NET values, collections, JsonElement) into template values; copies, so templates cannot mutate inputs.</summary>
    public static object? FromDotNet(object? value) => FromDotNet(value, 0);

    private static object? FromDotNet(object? value, int depth)
    {
        if (depth > MaxInputDepth) throw new ArgumentException($"input value nests deeper than {MaxInputDepth} levels (a cycle?)");
        switch (value)
        {
            case null: return null;
            case string or bool or long or double: return value;
            case int i: return (long)i;
            case short s: return (long)s;
            case byte b: return (long)b;
            case sbyte sb: return (long)sb;
            case uint ui: return (long)ui;
            case ushort us: return (long)us;
            case ulong ul: return ul <= long.MaxValue ? (long)ul : (object)(double)ul;
            case float f: return (double)f;
            case decimal m: return decimal.IsInteger(m) && m >= long.MinValue && m <= long.MaxValue ? (long)m : (object)(double)m;
            case char c: return c.ToString();
            case JsonElement json: return FromJson(json, depth);
            case Undefined or Namespace or TemplateCallable: return value;
            case ChatMessage message:
                return new TemplateDict { ["role"] = message.Role, ["content"] = message.Content };
            case IDictionary<string, object?> dictionary:
                {
                    var result = new TemplateDict();
                    foreach (var (key, item) in dictionary) result[key] = FromDotNet(item, depth + 1);
                    return result;
                }
            case IReadOnlyDictionary<string, object?> dictionary:
                {
                    var result = new TemplateDict();
                    foreach (var (key, item) in dictionary) result[key] = FromDotNet(item, depth + 1);
                    return result;
                }
            case IDictionary dictionary:
                {
                    var result = new TemplateDict();
                    foreach (DictionaryEntry entry in dictionary)
                    {
                        result[FromDotNet(entry.Key, depth + 1) ?? throw new ArgumentException("dictionary keys cannot be null")] = FromDotNet(entry.Value, depth + 1);
                    }
                    return result;
                }
            case IEnumerable enumerable:
                {
                    var result = new TemplateList();
                    foreach (var item in enumerable) result.Add(FromDotNet(item, depth + 1));
                    return result;
                }
            default:
                throw new ArgumentException($"values of type {value.GetType().FullName} cannot be passed to a template; use string, bool, numbers, lists, dictionaries or JsonElement");
        }
    }

    private static object? FromJson(JsonElement json, int depth)
    {
        if (depth > MaxInputDepth) throw new ArgumentException($"input value nests deeper than {MaxInputDepth} levels");
        switch (json.ValueKind)
        {
            case JsonValueKind.Null:
            case JsonValueKind.Undefined:
                return null;
            case JsonValueKind.True: return true;
            case JsonValueKind.False: return false;
            case JsonValueKind.String: return json.GetString();
            case JsonValueKind.Number:
                return json.TryGetInt64(out var l) ? l : (object)json.GetDouble();
            case JsonValueKind.Array:
                {
                    var result = new TemplateList();
                    foreach (var item in json.EnumerateArray()) result.Add(FromJson(item, depth + 1));
                    return result;
                }
            default:
                {
                    var result = new TemplateDict();
                    foreach (var property in json.EnumerateObject()) result[property.Name] = FromJson(property.Value, depth + 1);
                    return result;
                }
        }
    }
}
