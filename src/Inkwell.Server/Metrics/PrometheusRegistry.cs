using System.Globalization;
using System.Text;

namespace Inkwell.Server.Metrics;

/// <summary>
/// A small metrics registry that writes the Prometheus text exposition format (version 0.0.4): counters, gauges and
/// histograms, each optionally split by one label. Thread-safe; recording is a lock-free add or a short lock.
/// </summary>
public sealed class PrometheusRegistry
{
    private readonly List<Metric> _metrics = [];

    public Counter Counter(string name, string help, string? label = null) => Add(new Counter(name, help, label));
    public Gauge Gauge(string name, string help) => Add(new Gauge(name, help));
    public Histogram Histogram(string name, string help, double[] buckets, string? label = null) => Add(new Histogram(name, help, buckets, label));

    private T Add<T>(T metric) where T : Metric
    {
        lock (_metrics) _metrics.Add(metric);
        return metric;
    }

    public string Render()
    {
        var sb = new StringBuilder();
        lock (_metrics)
        {
            foreach (var m in _metrics)
            {
                sb.Append("# HELP ").Append(m.Name).Append(' ').Append(m.Help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
                sb.Append("# TYPE ").Append(m.Name).Append(' ').Append(m.Type).Append('\n');
                m.Write(sb);
            }
        }
        return sb.ToString();
    }

    internal static string Format(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);

    internal static string Labels(string? label, string? value, string? extra = null)
    {
        var parts = new List<string>();
        if (label is not null && value is not null) parts.Add($"{label}=\"{value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")}\"");
        if (extra is not null) parts.Add(extra);
        return parts.Count == 0 ? "" : "{" + string.Join(",", parts) + "}";
    }
}

public abstract class Metric(string name, string help, string type)
{
    public string Name { get; } = name;
    public string Help { get; } = help;
    public string Type { get; } = type;
    internal abstract void Write(StringBuilder sb);
}

public sealed class Counter(string name, string help, string? label) : Metric(name, help, "counter")
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, double[]> _values = new();

    public void Increment(double by = 1, string? labelValue = null)
    {
        var cell = _values.GetOrAdd(labelValue ?? "", _ => new double[1]);
        lock (cell) cell[0] += by;
    }

    public double Value(string? labelValue = null) => _values.TryGetValue(labelValue ?? "", out var c) ? c[0] : 0;

    internal override void Write(StringBuilder sb)
    {
        if (_values.IsEmpty && label is null) sb.Append(Name).Append(" 0\n");
        foreach (var (k, v) in _values.OrderBy(p => p.Key, StringComparer.Ordinal))
            sb.Append(Name).Append(PrometheusRegistry.Labels(label, label is null ? null : k)).Append(' ').Append(PrometheusRegistry.Format(v[0])).Append('\n');
    }
}

public sealed class Gauge(string name, string help) : Metric(name, help, "gauge")
{
    private double _value;
    public void Set(double v) => Volatile.Write(ref _value, v);
    public double Value => Volatile.Read(ref _value);
    internal override void Write(StringBuilder sb) => sb.Append(Name).Append(' ').Append(PrometheusRegistry.Format(Value)).Append('\n');
}

public sealed class Histogram(string name, string help, double[] buckets, string? label) : Metric(name, help, "histogram")
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Series> _series = new();

    private sealed class Series(int n)
    {
        public readonly long[] Counts = new long[n + 1];  // last = +Inf
        public double Sum;
        public long Count;
    }

    public void Observe(double v, string? labelValue = null)
    {
        var s = _series.GetOrAdd(labelValue ?? "", _ => new Series(buckets.Length));
        lock (s)
        {
            int i = 0;
            while (i < buckets.Length && v > buckets[i]) i++;
            s.Counts[i]++;
            s.Sum += v;
            s.Count++;
        }
    }

    public long Count(string? labelValue = null) => _series.TryGetValue(labelValue ?? "", out var s) ? s.Count : 0;

    internal override void Write(StringBuilder sb)
    {
        foreach (var (k, s) in _series.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            lock (s)
            {
                string? lv = label is null ? null : k;
                long cumulative = 0;
                for (int i = 0; i <= buckets.Length; i++)
                {
                    cumulative += s.Counts[i];
                    string le = i < buckets.Length ? PrometheusRegistry.Format(buckets[i]) : "+Inf";
                    sb.Append(Name).Append("_bucket").Append(PrometheusRegistry.Labels(label, lv, $"le=\"{le}\"")).Append(' ').Append(cumulative).Append('\n');
                }
                sb.Append(Name).Append("_sum").Append(PrometheusRegistry.Labels(label, lv)).Append(' ').Append(PrometheusRegistry.Format(s.Sum)).Append('\n');
                sb.Append(Name).Append("_count").Append(PrometheusRegistry.Labels(label, lv)).Append(' ').Append(s.Count).Append('\n');
            }
        }
    }
}
