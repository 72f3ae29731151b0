using System.Globalization;

namespace Inkwell.Cli.Commands;

/// <summary>
/// Reads `--name value`, `--name=value` and `--flag` options (with optional short aliases) from a command line.
/// Unknown options are an error, so a typo never silently does the default.
/// </summary>
public sealed class ArgReader
{
    private readonly Dictionary<string, string?> _values = new(StringComparer.Ordinal);
    private readonly HashSet<string> _used = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<string>> _every = new(StringComparer.Ordinal);

    public ArgReader(IEnumerable<string> args, IReadOnlySet<string> flags)
    {
        var list = args.ToList();
        for (int i = 0; i < list.Count; i++)
        {
            string a = list[i];
            if (!a.StartsWith('-') || a == "-") throw new UsageException($"unexpected argument '{a}'");
            string name = a.TrimStart('-');
            string? value = null;
            int eq = name.IndexOf('=');
            if (eq >= 0) { value = name[(eq + 1)..]; name = name[..eq]; }
            else if (!flags.Contains(name))
            {
                if (i + 1 >= list.Count) throw new UsageException($"option --{name} needs a value");
                value = list[++i];
            }
            _values[name] = value;
            if (value is not null) (_every.TryGetValue(name, out var all) ? all : _every[name] = []).Add(value);
        }
    }

    public bool Flag(string name) { _used.Add(name); return _values.ContainsKey(name); }

    public string? String(string name, params string[] aliases)
    {
        foreach (var n in aliases.Prepend(name))
        {
            _used.Add(n);
            if (_values.TryGetValue(n, out var v)) return v;
        }
        return null;
    }

    /// <summary>Every value of a repeatable option, in command-line order (String gives the last).</summary>
    public IReadOnlyList<string> All(string name)
    {
        _used.Add(name);
        return _every.TryGetValue(name, out var all) ? all : [];
    }

    public int Int(string name, int fallback, params string[] aliases) =>
        String(name, aliases) is { } s ? int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v) ? v : throw new UsageException($"--{name} must be an integer, got '{s}'") : fallback;

    public float Float(string name, float fallback) =>
        String(name) is { } s ? float.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out float v) ? v : throw new UsageException($"--{name} must be a number, got '{s}'") : fallback;

    /// <summary>Call after reading every option: rejects the ones nobody asked for.</summary>
    public void EnsureAllUsed()
    {
        var unknown = _values.Keys.Where(k => !_used.Contains(k)).ToList();
        if (unknown.Count > 0) throw new UsageException($"unknown option{(unknown.Count > 1 ? "s" : "")}: {string.Join(", ", unknown.Select(u => "--" + u))}");
    }
}

public sealed class UsageException(string message) : Exception(message);
