using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace Inkwell.Server.Metrics;

/// <summary>
/// A small metrics registry that writes the Prometheus text exposition format (version 0.0.4): counters, gauges and
/// histograms, each with zero or more labels. Thread-safe; recording is a dictionary lookup and a short lock.
/// </summary>
public sealed class PrometheusRegistry
{
    private readonly List<Metric> _metrics = [];

    /// <param name="totalTwin">Also export the count as <c>name_total</c>, as TGIS does for tools that expect that suffix.</param>
    public Counter Counter(string name, string help, string[]? labels = null, bool totalTwin = false) => Add(new Counter(name, help, labels ?? [], totalTwin));
    public Gauge Gauge(string name, string help) => Add(new Gauge(name, help));
    public Histogram Histogram(string name, string help, double[] buckets, string[]? labels = null) => Add(new Histogram(name, help, buckets, labels ?? []));

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
            foreach (var m in _metrics) m.Write(sb);
        }
        return sb.ToString();
    }

    internal static void Header(StringBuilder sb, string name, string help, string type)
    {
        sb.Append("# HELP ").Append(name).Append(' ').Append(help.Replace("\\", "\\\\").Replace("\n", "\\n")).Append('\n');
        sb.Append("# TYPE ").Append(name).Append(' ').Append(type).Append('\n');
    }

    internal static string Format(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);

    /// <summary>`{a="x",b="y"}` with values escaped as the format says; empty when there is nothing to write.</summary>
    internal static string Labels(string[] names, string[] values, string? extra = null)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < names.Length; i++)
        {
            sb.Append(sb.Length == 0 ? "{" : ",").Append(names[i]).Append("=\"")
              .Append(values[i].Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")).Append('"');
        }
        if (extra is not null) sb.Append(sb.Length == 0 ? "{" : ",").Append(extra);
        return sb.Length == 0 ? "" : sb.Append('}').ToString();
    }
}

/// <summary>A metric family; its series are keyed by label values, in the order of <see cref="LabelNames"/>.</summary>
public abstract class Metric(string name, string help, string type, string[] labelNames)
{
    public string Name { get; } = name;
    public string Help { get; } = help;
    public string Type { get; } = type;
    public IReadOnlyList<string> LabelNames => labelNames;
    protected string[] LabelNamesArray => labelNames;
    internal abstract void Write(StringBuilder sb);

    /// <summary>One key per label-value combination (values joined by a character no label value holds).</summary>
    protected string Key(string[] values)
    {
        if (values.Length != labelNames.Length)
            throw new ArgumentException($"{Name} has {labelNames.Length} label(s) ({string.Join(", ", labelNames)}), got {values.Length} value(s)");
        return values.Length == 0 ? "" : string.Join('\u0001', values);
    }

    protected static string[] Values(string key, int count) => count == 0 ? [] : key.Split('\u0001');
}

public sealed class Counter(string name, string help, string[] labelNames, bool totalTwin) : Metric(name, help, "counter", labelNames)
{
    private readonly ConcurrentDictionary<string, double[]> _values = new();

    public void Increment(params string[] labelValues) => Add(1, labelValues);

    public void Add(double by, params string[] labelValues) => WithLabels(labelValues).Add(by);

    /// <summary>One series, looked up once: recording through it costs no lookup and no allocation (hot paths keep these).</summary>
    public CounterSeries WithLabels(params string[] labelValues) => new(_values.GetOrAdd(Key(labelValues), _ => new double[1]));

    /// <summary>Creates the series at 0, so a scrape shows every known label combination before it first happens.</summary>
    public void Declare(params string[] labelValues) => _values.GetOrAdd(Key(labelValues), _ => new double[1]);

    public double Value(params string[] labelValues) => _values.TryGetValue(Key(labelValues), out var c) ? c[0] : 0;

    internal override void Write(StringBuilder sb)
    {
        WriteFamily(sb, Name);
        if (totalTwin) WriteFamily(sb, Name + "_total");
    }

    private void WriteFamily(StringBuilder sb, string family)
    {
        PrometheusRegistry.Header(sb, family, Help, Type);
        if (_values.IsEmpty && LabelNames.Count == 0) sb.Append(family).Append(" 0\n");
        foreach (var (k, v) in _values.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            double value;
            lock (v) value = v[0];
            sb.Append(family).Append(PrometheusRegistry.Labels(LabelNamesArray, Values(k, LabelNames.Count))).Append(' ').Append(PrometheusRegistry.Format(value)).Append('\n');
        }
    }
}

public readonly struct CounterSeries
{
    private readonly double[] _cell;
    internal CounterSeries(double[] cell) => _cell = cell;

    public void Add(double by = 1)
    {
        lock (_cell) _cell[0] += by;
    }
}

public sealed class Gauge(string name, string help) : Metric(name, help, "gauge", [])
{
    private double _value;
    public void Set(double v) => Volatile.Write(ref _value, v);
    public double Value => Volatile.Read(ref _value);

    internal override void Write(StringBuilder sb)
    {
        PrometheusRegistry.Header(sb, Name, Help, Type);
        sb.Append(Name).Append(' ').Append(PrometheusRegistry.Format(Value)).Append('\n');
    }
}

public sealed class Histogram : Metric
{
    private readonly ConcurrentDictionary<string, Series> _series = new();
    private readonly double[] _buckets;

    public Histogram(string name, string help, double[] buckets, string[] labelNames) : base(name, help, "histogram", labelNames)
    {
        _buckets = buckets;
        // As Prometheus's own clients: an unlabelled histogram shows (all zero) before its first observation.
        if (labelNames.Length == 0) Declare();
    }

    internal sealed class Series(double[] buckets)
    {
        public readonly long[] Counts = new long[buckets.Length + 1];  // last = +Inf
        public double Sum;
        public long Count;

        public void Observe(double v)
        {
            lock (this)
            {
                int i = 0;
                while (i < buckets.Length && v > buckets[i]) i++;
                Counts[i]++;
                Sum += v;
                Count++;
            }
        }
    }

    public void Observe(double v, params string[] labelValues) => WithLabels(labelValues).Observe(v);

    /// <summary>Creates the series empty, so a scrape shows every known label combination before it first happens.</summary>
    public void Declare(params string[] labelValues) => WithLabels(labelValues);

    /// <summary>One series, looked up once: recording through it costs no lookup and no allocation (hot paths keep these).</summary>
    public HistogramSeries WithLabels(params string[] labelValues) => new(_series.GetOrAdd(Key(labelValues), _ => new Series(_buckets)));

    public long Count(params string[] labelValues) => _series.TryGetValue(Key(labelValues), out var s) ? s.Count : 0;

    internal override void Write(StringBuilder sb)
    {
        PrometheusRegistry.Header(sb, Name, Help, Type);
        foreach (var (k, s) in _series.OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            var values = Values(k, LabelNames.Count);
            lock (s)
            {
                long cumulative = 0;
                for (int i = 0; i <= _buckets.Length; i++)
                {
                    cumulative += s.Counts[i];
                    string le = i < _buckets.Length ? PrometheusRegistry.Format(_buckets[i]) : "+Inf";
                    sb.Append(Name).Append("_bucket").Append(PrometheusRegistry.Labels(LabelNamesArray, values, $"le=\"{le}\"")).Append(' ').Append(cumulative).Append('\n');
                }
                sb.Append(Name).Append("_sum").Append(PrometheusRegistry.Labels(LabelNamesArray, values)).Append(' ').Append(PrometheusRegistry.Format(s.Sum)).Append('\n');
                sb.Append(Name).Append("_count").Append(PrometheusRegistry.Labels(LabelNamesArray, values)).Append(' ').Append(s.Count).Append('\n');
            }
        }
    }
}

public readonly struct HistogramSeries
{
    private readonly Histogram.Series _series;
    internal HistogramSeries(Histogram.Series series) => _series = series;
    public void Observe(double v) => _series.Observe(v);
}
