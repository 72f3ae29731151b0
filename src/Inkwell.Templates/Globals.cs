using System.Globalization;
using System.Text;

namespace Inkwell.Templates;

/// <summary>Functions every template can call: range, namespace, dict, raise_exception, strftime_now.</summary>
internal static class Globals
{
    public static void AddTo(Scope scope)
    {
        scope.Set("range", new BuiltinFunction("range", Range));
        scope.Set("namespace", new BuiltinFunction("namespace", (_, args) => CreateNamespace(args)));
        scope.Set("dict", new BuiltinFunction("dict", (_, args) => CreateDict(args)));
        scope.Set("raise_exception", new BuiltinFunction("raise_exception", (_, args) =>
            throw new TemplateRuntimeException(args.Count > 0 ? Values.ToText(args.Get(0, "message")) : "raise_exception called", raisedByTemplate: true)));
        scope.Set("strftime_now", new BuiltinFunction("strftime_now", (evaluator, args) =>
        {
            args.Check("strftime_now", 1, "format");
            var format = args.Get(0, "format") as string ?? throw new TemplateRuntimeException("strftime_now needs a format string");
            return Strftime(evaluator.Options.TimeProvider.GetLocalNow(), format);
        }));
    }

    private static object Range(Evaluator evaluator, CallArgs args)
    {
        args.Check("range", 3);
        long Integer(int i) => args.Positional[i] switch
        {
            long l => l,
            bool b => b ? 1 : 0,
            var other => throw new TemplateRuntimeException($"range() arguments must be integers, got {Values.TypeName(other)}"),
        };
        var (start, stop, step) = args.Positional.Count switch
        {
            1 => (0L, Integer(0), 1L),
            2 => (Integer(0), Integer(1), 1L),
            3 => (Integer(0), Integer(1), Integer(2)),
            _ => throw new TemplateRuntimeException("range() expects 1 to 3 integer arguments"),
        };
        if (step == 0) throw new TemplateRuntimeException("range() step must not be zero");
        var count = step > 0
            ? (stop > start ? (stop - start - 1) / step + 1 : 0)
            : (start > stop ? (start - stop - 1) / -step + 1 : 0);
        if (count > evaluator.Options.MaxCollectionLength)
        {
            throw new TemplateRuntimeException($"range() would create {count} items, more than the limit of {evaluator.Options.MaxCollectionLength}");
        }
        var result = new TemplateList();
        for (var i = 0L; i < count; i++) result.Add(start + i * step);
        return result;
    }

    private static Namespace CreateNamespace(CallArgs args)
    {
        var ns = new Namespace();
        foreach (var positional in args.Positional)
        {
            if (positional is not TemplateDict initial) throw new TemplateRuntimeException("namespace() takes keyword arguments or a dict");
            foreach (var (key, value) in initial) ns.Attributes[Values.ToText(key)] = value;
        }
        foreach (var (key, value) in args.Named) ns.Attributes[key] = value;
        return ns;
    }

    private static TemplateDict CreateDict(CallArgs args)
    {
        var dict = new TemplateDict();
        foreach (var positional in args.Positional)
        {
            if (positional is not TemplateDict initial) throw new TemplateRuntimeException("dict() takes keyword arguments or a dict");
            foreach (var (key, value) in initial) dict[key] = value;
        }
        foreach (var (key, value) in args.Named) dict[key] = value;
        return dict;
    }

    /// <summary>Python's strftime for the common directives (English names, as in the C locale).</summary>
    public static string Strftime(DateTimeOffset time, string format)
    {
        var culture = CultureInfo.InvariantCulture;
        var builder = new StringBuilder();
        for (var i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 >= format.Length)
            {
                builder.Append(format[i]);
                continue;
            }
            var directive = format[++i];
            var noPadding = false;
            if (directive == '-' && i + 1 < format.Length)
            {
                noPadding = true;
                directive = format[++i];
            }
            string Pad(int value, int width) => noPadding ? value.ToString(culture) : value.ToString(new string('0', width), culture);
            builder.Append(directive switch
            {
                'Y' => time.Year.ToString(culture),
                'y' => Pad(time.Year % 100, 2),
                'm' => Pad(time.Month, 2),
                'd' => Pad(time.Day, 2),
                'e' => time.Day.ToString(culture).PadLeft(2),
                'H' => Pad(time.Hour, 2),
                'I' => Pad(time.Hour % 12 == 0 ? 12 : time.Hour % 12, 2),
                'M' => Pad(time.Minute, 2),
                'S' => Pad(time.Second, 2),
                'f' => (time.Ticks % TimeSpan.TicksPerSecond / 10).ToString("000000", culture),
                'p' => time.Hour < 12 ? "AM" : "PM",
                'j' => Pad(time.DayOfYear, 3),
                'a' => time.ToString("ddd", culture),
                'A' => time.ToString("dddd", culture),
                'b' or 'h' => time.ToString("MMM", culture),
                'B' => time.ToString("MMMM", culture),
                'z' => (time.Offset < TimeSpan.Zero ? "-" : "+") + time.Offset.ToString("hhmm", culture),
                'Z' => time.Offset == TimeSpan.Zero ? "UTC" : "",
                'F' => time.ToString("yyyy-MM-dd", culture),
                'T' => time.ToString("HH:mm:ss", culture),
                'D' => time.ToString("MM/dd/yy", culture),
                '%' => "%",
                _ => "%" + directive,
            });
        }
        return builder.ToString();
    }
}
