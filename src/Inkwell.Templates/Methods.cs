using System.Globalization;
using System.Text;

namespace Inkwell.Templates;

/// <summary>A builtin function or a method bound to its receiver.</summary>
internal sealed class BuiltinFunction(string name, Func<Evaluator, CallArgs, object?> body) : TemplateCallable
{
    public override string Name => name;

    public override object? Invoke(Evaluator evaluator, CallArgs args, Node at) => body(evaluator, args);
}

/// <summary>Python methods templates call on strings, lists and dicts (<c>content.strip()</c>, <c>tool.items()</c>).</summary>
internal static class Methods
{
    public static TemplateCallable? Find(object? target, string name) => target switch
    {
        string text => StringMethod(text, name),
        TemplateList list => ListMethod(list, name),
        TemplateDict dict => DictMethod(dict, name),
        _ => null,
    };

    private static BuiltinFunction Bind(string name, Func<Evaluator, CallArgs, object?> body) => new(name, body);

    private static string StringArgument(CallArgs args, int index, string name, string function)
    {
        var value = args.Get(index, name);
        return value as string ?? throw new TemplateRuntimeException($"{function}() expects a string for '{name}', got {Values.TypeName(value)}");
    }

    private static TemplateCallable? StringMethod(string text, string name) => name switch
    {
        "strip" => Bind(name, (_, a) => { a.Check(name, 1, "chars"); return Strip(text, a.Get(0, "chars"), true, true); }),
        "lstrip" => Bind(name, (_, a) => { a.Check(name, 1, "chars"); return Strip(text, a.Get(0, "chars"), true, false); }),
        "rstrip" => Bind(name, (_, a) => { a.Check(name, 1, "chars"); return Strip(text, a.Get(0, "chars"), false, true); }),
        "upper" => Bind(name, (_, a) => { a.Check(name, 0); return text.ToUpperInvariant(); }),
        "lower" => Bind(name, (_, a) => { a.Check(name, 0); return text.ToLowerInvariant(); }),
        "title" => Bind(name, (_, a) => { a.Check(name, 0); return PythonTitle(text); }),
        "capitalize" => Bind(name, (_, a) => { a.Check(name, 0); return Capitalize(text); }),
        "swapcase" => Bind(name, (_, a) => { a.Check(name, 0); return new string([.. text.Select(c => char.IsUpper(c) ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c))]); }),
        "startswith" => Bind(name, (_, a) => { a.Check(name, 1, "prefix"); return AnyAffix(a.Get(0, "prefix"), p => text.StartsWith(p, StringComparison.Ordinal), name); }),
        "endswith" => Bind(name, (_, a) => { a.Check(name, 1, "suffix"); return AnyAffix(a.Get(0, "suffix"), p => text.EndsWith(p, StringComparison.Ordinal), name); }),
        "split" => Bind(name, (_, a) => { a.Check(name, 2, "sep", "maxsplit"); return Split(text, a.Get(0, "sep"), a.Get(1, "maxsplit", -1L), fromRight: false); }),
        "rsplit" => Bind(name, (_, a) => { a.Check(name, 2, "sep", "maxsplit"); return Split(text, a.Get(0, "sep"), a.Get(1, "maxsplit", -1L), fromRight: true); }),
        "splitlines" => Bind(name, (_, a) => { a.Check(name, 1, "keepends"); return SplitLines(text, Values.IsTruthy(a.Get(0, "keepends", false))); }),
        "replace" => Bind(name, (e, a) =>
        {
            a.Check(name, 3, "old", "new", "count");
            return Replace(text, StringArgument(a, 0, "old", name), StringArgument(a, 1, "new", name), a.Get(2, "count", -1L), e.Options.MaxOutputChars);
        }),
        "find" => Bind(name, (_, a) => { a.Check(name, 1, "sub"); return (long)text.IndexOf(StringArgument(a, 0, "sub", name), StringComparison.Ordinal); }),
        "rfind" => Bind(name, (_, a) => { a.Check(name, 1, "sub"); return (long)text.LastIndexOf(StringArgument(a, 0, "sub", name), StringComparison.Ordinal); }),
        "index" => Bind(name, (_, a) =>
        {
            a.Check(name, 1, "sub");
            var index = text.IndexOf(StringArgument(a, 0, "sub", name), StringComparison.Ordinal);
            return index >= 0 ? (long)index : throw new TemplateRuntimeException("substring not found");
        }),
        "count" => Bind(name, (_, a) => { a.Check(name, 1, "sub"); return CountOccurrences(text, StringArgument(a, 0, "sub", name)); }),
        "join" => Bind(name, (_, a) => { a.Check(name, 1, "iterable"); return string.Join(text, Values.Iterate(a.Get(0, "iterable")).Select(Values.ToText)); }),
        "format" => Bind(name, (_, a) => StrFormat(text, a)),
        "isdigit" => Bind(name, (_, _) => text.Length > 0 && text.All(char.IsDigit)),
        "isnumeric" => Bind(name, (_, _) => text.Length > 0 && text.All(char.IsDigit)),
        "isalpha" => Bind(name, (_, _) => text.Length > 0 && text.All(char.IsLetter)),
        "isalnum" => Bind(name, (_, _) => text.Length > 0 && text.All(char.IsLetterOrDigit)),
        "isspace" => Bind(name, (_, _) => text.Length > 0 && text.All(char.IsWhiteSpace)),
        "isupper" => Bind(name, (_, _) => text.Any(char.IsLetter) && !text.Any(char.IsLower)),
        "islower" => Bind(name, (_, _) => text.Any(char.IsLetter) && !text.Any(char.IsUpper)),
        "zfill" => Bind(name, (_, a) => { a.Check(name, 1, "width"); return text.PadLeft((int)Values.ToDouble(a.Get(0, "width")), '0'); }),
        "center" => Bind(name, (_, a) => { a.Check(name, 1, "width"); return Center(text, (int)Values.ToDouble(a.Get(0, "width"))); }),
        _ => null,
    };

    private static TemplateCallable? ListMethod(TemplateList list, string name) => name switch
    {
        "append" => Bind(name, (_, a) => { a.Check(name, 1); list.Add(a.Get(0, "")); return null; }),
        "extend" => Bind(name, (_, a) => { a.Check(name, 1); list.AddRange(Values.Iterate(a.Get(0, ""))); return null; }),
        "insert" => Bind(name, (_, a) =>
        {
            a.Check(name, 2);
            var index = (long)Values.ToDouble(a.Get(0, ""));
            if (index < 0) index = Math.Max(0, index + list.Count);
            list.Insert((int)Math.Min(index, list.Count), a.Get(1, ""));
            return null;
        }),
        "pop" => Bind(name, (_, a) =>
        {
            a.Check(name, 1);
            if (list.Count == 0) throw new TemplateRuntimeException("pop from empty list");
            var index = a.Has(0, "") ? (long)Values.ToDouble(a.Get(0, "")) : -1;
            if (index < 0) index += list.Count;
            if (index < 0 || index >= list.Count) throw new TemplateRuntimeException("pop index out of range");
            var item = list[(int)index];
            list.RemoveAt((int)index);
            return item;
        }),
        "index" => Bind(name, (_, a) =>
        {
            a.Check(name, 1);
            var item = a.Get(0, "");
            var index = list.FindIndex(x => Values.AreEqual(x, item));
            return index >= 0 ? (long)index : throw new TemplateRuntimeException($"{Values.Repr(item)} is not in list");
        }),
        "count" => Bind(name, (_, a) => { a.Check(name, 1); var item = a.Get(0, ""); return (long)list.Count(x => Values.AreEqual(x, item)); }),
        _ => null,
    };

    private static TemplateCallable? DictMethod(TemplateDict dict, string name) => name switch
    {
        "items" => Bind(name, (_, a) => { a.Check(name, 0); return Items(dict); }),
        "keys" => Bind(name, (_, a) => { a.Check(name, 0); return new TemplateList(dict.Keys); }),
        "values" => Bind(name, (_, a) => { a.Check(name, 0); return new TemplateList(dict.Values); }),
        "get" => Bind(name, (_, a) =>
        {
            a.Check(name, 2, "key", "default");
            var key = a.Get(0, "key");
            return key is not null && dict.TryGetValue(key, out var value) ? value : a.Get(1, "default");
        }),
        "copy" => Bind(name, (_, a) =>
        {
            a.Check(name, 0);
            var copy = new TemplateDict();
            foreach (var (key, value) in dict) copy[key] = value;
            return copy;
        }),
        "update" => Bind(name, (_, a) =>
        {
            a.Check(name, 1);
            if (a.Positional.Count == 1)
            {
                if (a.Positional[0] is not TemplateDict other) throw new TemplateRuntimeException("update() expects a dict");
                foreach (var (key, value) in other) dict[key] = value;
            }
            foreach (var (key, value) in a.Named) dict[key] = value;
            return null;
        }),
        "pop" => Bind(name, (_, a) =>
        {
            a.Check(name, 2, "key", "default");
            var key = a.Get(0, "key");
            if (key is not null && dict.Remove(key, out var value)) return value;
            return a.Has(1, "default") ? a.Get(1, "default") : throw new TemplateRuntimeException($"key {Values.Repr(key)} is missing");
        }),
        _ => null,
    };

    public static TemplateList Items(TemplateDict dict)
    {
        var result = new TemplateList();
        foreach (var (key, value) in dict) result.Add(new TemplateList { key, value }.AsTuple());
        return result;
    }

    private static TemplateList AsTuple(this TemplateList list) => new(list) { IsTuple = true };

    public static string Strip(string text, object? chars, bool left, bool right)
    {
        if (chars is null or Undefined)
        {
            return left && right ? text.Trim() : left ? text.TrimStart() : text.TrimEnd();
        }
        if (chars is not string set) throw new TemplateRuntimeException($"strip arg must be none or a string, not {Values.TypeName(chars)}");
        var characters = set.ToCharArray();
        return left && right ? text.Trim(characters) : left ? text.TrimStart(characters) : text.TrimEnd(characters);
    }

    private static bool AnyAffix(object? affixes, Func<string, bool> matches, string function) => affixes switch
    {
        string affix => matches(affix),
        TemplateList list => list.Any(item => item is string s ? matches(s) : throw new TemplateRuntimeException($"{function}() tuple items must be strings")),
        _ => throw new TemplateRuntimeException($"{function}() expects a string or a tuple of strings, got {Values.TypeName(affixes)}"),
    };

    private static TemplateList Split(string text, object? separator, object? maxSplitValue, bool fromRight)
    {
        var maxSplit = maxSplitValue is null ? -1 : (long)Values.ToDouble(maxSplitValue);
        var parts = new List<string>();
        if (separator is null or Undefined)
        {
            // Whitespace split: runs of whitespace separate, empty strings never appear.
            var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (maxSplit < 0 || words.Length <= maxSplit + 1) return new TemplateList(words);
            if (!fromRight)
            {
                var position = 0;
                for (var i = 0; i < maxSplit; i++)
                {
                    while (char.IsWhiteSpace(text[position])) position++;
                    var end = position;
                    while (!char.IsWhiteSpace(text[end])) end++;
                    parts.Add(text[position..end]);
                    position = end;
                }
                parts.Add(text[position..].TrimStart());
            }
            else
            {
                var position = text.Length;
                for (var i = 0; i < maxSplit; i++)
                {
                    while (char.IsWhiteSpace(text[position - 1])) position--;
                    var start = position;
                    while (!char.IsWhiteSpace(text[start - 1])) start--;
                    parts.Insert(0, text[start..position]);
                    position = start;
                }
                parts.Insert(0, text[..position].TrimEnd());
            }
            return new TemplateList(parts);
        }
        if (separator is not string sep) throw new TemplateRuntimeException($"split separator must be a string, not {Values.TypeName(separator)}");
        if (sep.Length == 0) throw new TemplateRuntimeException("empty separator");
        var all = text.Split(sep);
        if (maxSplit < 0 || all.Length <= maxSplit + 1) return new TemplateList(all);
        if (!fromRight)
        {
            var head = all.Take((int)maxSplit).Cast<object?>().ToList();
            head.Add(string.Join(sep, all.Skip((int)maxSplit)));
            return new TemplateList(head);
        }
        var tailStart = all.Length - (int)maxSplit;
        var result = new TemplateList { string.Join(sep, all.Take(tailStart)) };
        result.AddRange(all.Skip(tailStart));
        return result;
    }

    private static TemplateList SplitLines(string text, bool keepEnds)
    {
        var result = new TemplateList();
        var start = 0;
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] is not ('\n' or '\r')) continue;
            var end = i;
            if (text[i] == '\r' && i + 1 < text.Length && text[i + 1] == '\n') i++;
            result.Add(keepEnds ? text[start..(i + 1)] : text[start..end]);
            start = i + 1;
        }
        if (start < text.Length) result.Add(text[start..]);
        return result;
    }

    public static string Replace(string text, string oldValue, string newValue, object? countValue, int maxLength)
    {
        var count = countValue is null ? -1 : (long)Values.ToDouble(countValue);
        var builder = new StringBuilder();
        if (oldValue.Length == 0)
        {
            // Python inserts the replacement between every character (and at both ends).
            var inserted = 0L;
            for (var i = 0; i <= text.Length; i++)
            {
                if (count < 0 || inserted < count)
                {
                    builder.Append(newValue);
                    inserted++;
                }
                if (i < text.Length) builder.Append(text[i]);
                if (builder.Length > maxLength) throw new TemplateRuntimeException($"string longer than {maxLength} characters");
            }
            return builder.ToString();
        }
        var position = 0;
        var replaced = 0L;
        while (count < 0 || replaced < count)
        {
            var found = text.IndexOf(oldValue, position, StringComparison.Ordinal);
            if (found < 0) break;
            builder.Append(text, position, found - position).Append(newValue);
            if (builder.Length > maxLength) throw new TemplateRuntimeException($"string longer than {maxLength} characters");
            position = found + oldValue.Length;
            replaced++;
        }
        builder.Append(text, position, text.Length - position);
        return builder.ToString();
    }

    private static long CountOccurrences(string text, string needle)
    {
        if (needle.Length == 0) return text.Length + 1;
        long count = 0;
        for (var i = text.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = text.IndexOf(needle, i + needle.Length, StringComparison.Ordinal)) count++;
        return count;
    }

    /// <summary>Python's str.title(): a letter after a non-letter is upper-cased, other letters lower-cased.</summary>
    public static string PythonTitle(string text)
    {
        var builder = new StringBuilder(text.Length);
        var previousIsLetter = false;
        foreach (var c in text)
        {
            builder.Append(previousIsLetter ? char.ToLowerInvariant(c) : char.ToUpperInvariant(c));
            previousIsLetter = char.IsLetter(c);
        }
        return builder.ToString();
    }

    public static string Capitalize(string text) =>
        text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..].ToLowerInvariant();

    public static string Center(string text, int width)
    {
        if (width <= text.Length) return text;
        var total = width - text.Length;
        // CPython's rule for where the odd padding space goes.
        var left = total / 2 + (total & width & 1);
        return new string(' ', left) + text + new string(' ', total - left);
    }

    /// <summary>str.format with {} / {0} / {name} fields; format specs after ':' are not supported.</summary>
    private static string StrFormat(string format, CallArgs args)
    {
        var builder = new StringBuilder();
        var auto = 0;
        for (var i = 0; i < format.Length; i++)
        {
            var c = format[i];
            if (c == '{' && i + 1 < format.Length && format[i + 1] == '{')
            {
                builder.Append('{');
                i++;
            }
            else if (c == '}' && i + 1 < format.Length && format[i + 1] == '}')
            {
                builder.Append('}');
                i++;
            }
            else if (c == '{')
            {
                var close = format.IndexOf('}', i);
                if (close < 0) throw new TemplateRuntimeException("single '{' encountered in format string");
                var field = format[(i + 1)..close];
                if (field.Contains(':') || field.Contains('!')) throw new TemplateRuntimeException($"format spec in '{{{field}}}' is not supported");
                object? value;
                if (field.Length == 0)
                {
                    value = auto < args.Positional.Count ? args.Positional[auto++] : throw new TemplateRuntimeException("not enough arguments for format()");
                }
                else if (int.TryParse(field, NumberStyles.None, CultureInfo.InvariantCulture, out var position))
                {
                    value = position < args.Positional.Count ? args.Positional[position] : throw new TemplateRuntimeException($"format() has no argument {position}");
                }
                else
                {
                    var match = args.Named.FirstOrDefault(p => p.Key == field);
                    value = match.Key is not null ? match.Value : throw new TemplateRuntimeException($"format() has no argument '{field}'");
                }
                builder.Append(Values.ToText(value));
                i = close;
            }
            else if (c == '}')
            {
                throw new TemplateRuntimeException("single '}' encountered in format string");
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }
}
