namespace Inkwell.Templates;

/// <summary>
/// <c>x.name</c>, <c>x[key]</c> and <c>x[a:b:c]</c> with Jinja's rules: '.' prefers methods then items,
/// '[]' prefers items then methods, and anything missing is undefined rather than an error.
/// </summary>
internal static class Access
{
    public static object? GetAttribute(object? target, string name)
    {
        switch (target)
        {
            case TemplateDict dict:
                if (Methods.Find(dict, name) is { } method) return method;
                return dict.TryGetValue(name, out var item) ? item : new Undefined($"dict has no attribute or key '{name}'");
            case Namespace ns:
                return ns.Attributes.TryGetValue(name, out var attribute) ? attribute : new Undefined($"namespace has no attribute '{name}'");
            case LoopContext loop:
                return loop.GetAttribute(name);
            case Undefined undefined:
                return undefined; // attribute of undefined stays undefined (and keeps saying what was missing first)
            default:
                return (object?)Methods.Find(target, name) ?? new Undefined($"{Values.TypeName(target)} has no attribute '{name}'");
        }
    }

    public static object? GetItem(object? target, object? key)
    {
        switch (target)
        {
            case TemplateDict dict:
                if (key is not null && dict.TryGetValue(key, out var value)) return value;
                return key is string name && Methods.Find(dict, name) is { } method ? method : new Undefined($"key {Values.Repr(key)} is missing");
            case TemplateList list when key is long or bool:
                {
                    var index = IntegerIndex(key, list.Count);
                    return index is { } i ? list[i] : new Undefined($"list index {Values.ToText(key)} out of range");
                }
            case string text when key is long or bool:
                {
                    var index = IntegerIndex(key, text.Length);
                    return index is { } i ? text[i].ToString() : new Undefined($"string index {Values.ToText(key)} out of range");
                }
            case Undefined undefined:
                return undefined;
            case null:
                return new Undefined("none has no items");
            default:
                return key is string attribute ? GetAttribute(target, attribute) : new Undefined($"{Values.TypeName(target)} has no item {Values.Repr(key)}");
        }
    }

    private static int? IntegerIndex(object key, int count)
    {
        var index = key is bool b ? (b ? 1L : 0L) : (long)key;
        if (index < 0) index += count;
        return index >= 0 && index < count ? (int)index : null;
    }

    public static object? Slice(object? target, object? start, object? stop, object? step)
    {
        var stepValue = SliceBound(step) ?? 1;
        if (stepValue == 0) throw new TemplateRuntimeException("slice step cannot be zero");
        switch (target)
        {
            case TemplateList list:
                {
                    var result = new TemplateList { IsTuple = list.IsTuple };
                    foreach (var i in SliceIndices(list.Count, SliceBound(start), SliceBound(stop), stepValue)) result.Add(list[i]);
                    return result;
                }
            case string text:
                {
                    var result = new System.Text.StringBuilder();
                    foreach (var i in SliceIndices(text.Length, SliceBound(start), SliceBound(stop), stepValue)) result.Append(text[i]);
                    return result.ToString();
                }
            case Undefined undefined:
                return undefined;
            default:
                throw new TemplateRuntimeException($"{Values.TypeName(target)} cannot be sliced");
        }
    }

    private static long? SliceBound(object? bound) => bound switch
    {
        null or Undefined => null,
        long l => l,
        bool b => b ? 1 : 0,
        _ => throw new TemplateRuntimeException($"slice indices must be integers or none, not {Values.TypeName(bound)}"),
    };

    /// <summary>Python's slice.indices: clamps bounds, handles negatives, walks in the step's direction.</summary>
    public static IEnumerable<int> SliceIndices(int count, long? start, long? stop, long step)
    {
        long first, last;
        if (step > 0)
        {
            first = start is { } s ? (s < 0 ? Math.Max(0, s + count) : Math.Min(s, count)) : 0;
            last = stop is { } e ? (e < 0 ? Math.Max(0, e + count) : Math.Min(e, count)) : count;
            for (var i = first; i < last; i += step) yield return (int)i;
        }
        else
        {
            first = start is { } s ? (s < 0 ? Math.Max(-1, s + count) : Math.Min(s, count - 1)) : count - 1;
            last = stop is { } e ? (e < 0 ? Math.Max(-1, e + count) : Math.Min(e, count - 1)) : -1;
            for (var i = first; i > last; i += step) yield return (int)i;
        }
    }
}
