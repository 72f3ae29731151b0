using System.Globalization;
using System.Text;

namespace Inkwell.Server.Tests.Metrics;

/// <summary>One sample line: its full name (a histogram's _bucket/_sum/_count included), labels and value.</summary>
public sealed record PrometheusSample(string Name, IReadOnlyDictionary<string, string> Labels, double Value);

/// <summary>A metric family: # TYPE and # HELP, then its samples.</summary>
public sealed record PrometheusFamily(string Name, string Type, string Help, List<PrometheusSample> Samples);

/// <summary>
/// A strict reader of Prometheus's text exposition format 0.0.4 (prometheus.io/docs/instrumenting/exposition_formats):
/// HELP and TYPE once per family and before its samples, metric and label names of the allowed characters, label
/// values with \\, \" and \n escapes, values as Go's ParseFloat reads them (+Inf, -Inf, NaN), samples grouped under
/// their family (a histogram's as _bucket with le, _sum, _count). Anything else throws FormatException.
/// </summary>
public static class PrometheusText
{
    public static IReadOnlyDictionary<string, PrometheusFamily> Parse(string text)
    {
        var families = new Dictionary<string, PrometheusFamily>(StringComparer.Ordinal);
        var helps = new Dictionary<string, string>(StringComparer.Ordinal);
        PrometheusFamily? current = null;
        int lineNumber = 0;
        foreach (var line in text.Split('\n'))
        {
            lineNumber++;
            if (line.Length == 0) continue;
            if (line.StartsWith('#'))
            {
                var parts = line.Split(' ', 4);
                if (parts.Length >= 3 && parts[1] == "HELP")
                {
                    if (!helps.TryAdd(parts[2], parts.Length > 3 ? parts[3] : "")) throw Error(lineNumber, $"second HELP for {parts[2]}");
                }
                else if (parts.Length == 4 && parts[1] == "TYPE")
                {
                    string name = parts[2];
                    if (parts[3] is not ("counter" or "gauge" or "histogram" or "summary" or "untyped")) throw Error(lineNumber, $"unknown type {parts[3]}");
                    if (families.ContainsKey(name)) throw Error(lineNumber, $"second TYPE for {name}");
                    current = new PrometheusFamily(CheckName(name, lineNumber), parts[3], helps.GetValueOrDefault(name, ""), []);
                    families[name] = current;
                }
                continue;
            }
            var sample = ParseSample(line, lineNumber);
            if (current is null || !BelongsTo(sample.Name, current)) throw Error(lineNumber, $"sample {sample.Name} outside its family's block");
            current.Samples.Add(sample);
        }
        foreach (var f in families.Values.Where(f => f.Type == "histogram")) CheckHistogram(f);
        return families;
    }

    private static bool BelongsTo(string sample, PrometheusFamily f) => f.Type is "histogram" or "summary"
        ? sample == f.Name + "_sum" || sample == f.Name + "_count" || (f.Type == "histogram" ? sample == f.Name + "_bucket" : sample == f.Name)
        : sample == f.Name;

    private static PrometheusSample ParseSample(string line, int n)
    {
        int i = 0;
        while (i < line.Length && line[i] is not ('{' or ' ')) i++;
        string name = CheckName(line[..i], n);
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        if (i < line.Length && line[i] == '{')
        {
            i++;
            while (line[i] != '}')
            {
                int eq = line.IndexOf('=', i);
                if (eq < 0) throw Error(n, "label without =");
                string label = CheckName(line[i..eq], n);
                if (line[eq + 1] != '"') throw Error(n, "label value not quoted");
                var value = new StringBuilder();
                int j = eq + 2;
                for (; line[j] != '"'; j++)
                {
                    if (line[j] != '\\') { value.Append(line[j]); continue; }
                    j++;
                    value.Append(line[j] switch { '\\' => '\\', '"' => '"', 'n' => '\n', _ => throw Error(n, $"bad escape \\{line[j]}") });
                }
                if (!labels.TryAdd(label, value.ToString())) throw Error(n, $"label {label} twice");
                i = j + 1;
                if (line[i] == ',') i++;
                else if (line[i] != '}') throw Error(n, "expected , or }");
            }
            i++;
        }
        if (i >= line.Length || line[i] != ' ') throw Error(n, "no value");
        var fields = line[(i + 1)..].Split(' ');
        double v = fields[0] switch
        {
            "+Inf" => double.PositiveInfinity,
            "-Inf" => double.NegativeInfinity,
            "NaN" => double.NaN,
            var s => double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) ? d : throw Error(n, $"bad value {s}"),
        };
        return new PrometheusSample(name, labels, v);
    }

    private static string CheckName(string name, int n)
    {
        if (name.Length == 0 || char.IsAsciiDigit(name[0]) || name.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '_' or ':')))
            throw Error(n, $"bad name '{name}'");
        return name;
    }

    /// <summary>Per label set: buckets ascending in le and cumulative, +Inf last and equal to _count.</summary>
    private static void CheckHistogram(PrometheusFamily f)
    {
        static string Key(PrometheusSample s) => string.Join(",", s.Labels.Where(l => l.Key != "le").OrderBy(l => l.Key).Select(l => $"{l.Key}={l.Value}"));
        foreach (var series in f.Samples.GroupBy(Key))
        {
            var buckets = series.Where(s => s.Name.EndsWith("_bucket", StringComparison.Ordinal)).ToList();
            double previousLe = double.NegativeInfinity, previousCount = 0;
            foreach (var b in buckets)
            {
                double le = b.Labels["le"] == "+Inf" ? double.PositiveInfinity : double.Parse(b.Labels["le"], CultureInfo.InvariantCulture);
                if (le <= previousLe || b.Value < previousCount) throw new FormatException($"{f.Name}{{{series.Key}}}: buckets not ascending and cumulative");
                (previousLe, previousCount) = (le, b.Value);
            }
            var count = series.Single(s => s.Name == f.Name + "_count").Value;
            if (!double.IsPositiveInfinity(previousLe) || previousCount != count) throw new FormatException($"{f.Name}{{{series.Key}}}: +Inf bucket missing or not _count");
        }
    }

    private static FormatException Error(int line, string what) => new($"line {line}: {what}");
}
