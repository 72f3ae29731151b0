using System.Collections.Concurrent;
using System.Text;
using Inkwell.Client.Gateway;
using Inkwell.Server.Metrics;

namespace Inkwell.Server.Gateway;

/// <summary>
/// The gateway's /metrics (Prometheus text, as the server's PrometheusRegistry writes it, but with several labels):
/// per deployment the requests by status, their latency and how many are in flight (the gateway's queue depth);
/// per replica the attempts by outcome, time to the response headers, requests in flight and health.
/// </summary>
public sealed class GatewayMetrics
{
    private static readonly double[] Seconds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

    private readonly LabeledCounter _requests = new("inkwell_gateway_requests_total", "Requests answered, by deployment and HTTP status");
    private readonly LabeledHistogram _duration = new("inkwell_gateway_request_duration_seconds", "Request time in seconds until the last byte, by deployment", Seconds);
    private readonly ConcurrentDictionary<string, int[]> _inFlight = new(StringComparer.Ordinal);
    private readonly LabeledCounter _attempts = new("inkwell_gateway_replica_attempts_total", "Attempts sent to a replica, by outcome (ok, failed: before a first byte, refused: 429)");
    private readonly LabeledHistogram _replicaHeaders = new("inkwell_gateway_replica_time_to_headers_seconds", "Time until a replica's response headers in seconds", Seconds);
    private readonly LabeledCounter _retries = new("inkwell_gateway_retries_total", "Attempts that failed or were refused (429) before a first byte; the request went on to another replica while one was left");

    /// <summary>The replica sets to read live gauges (in flight, health) from when rendering.</summary>
    internal Func<IEnumerable<ReplicaSet>> ReplicaSets { get; set; } = () => [];

    /// <summary>Marks a request to a deployment as in flight; dispose when its answer is done.</summary>
    public RequestScope Begin(string deployment)
    {
        var cell = _inFlight.GetOrAdd(deployment, _ => new int[1]);
        Interlocked.Increment(ref cell[0]);
        return new RequestScope(this, deployment, cell, System.Diagnostics.Stopwatch.GetTimestamp());
    }

    internal void OnAttempt(string deployment, Replica replica, ReplicaAttempt attempt)
    {
        var labels = Labels(("deployment", deployment), ("replica", replica.BaseAddress.AbsoluteUri));
        var outcome = attempt.Failed ? "failed" : attempt.StatusCode == 429 ? "refused" : "ok";
        _attempts.Increment(Labels(("deployment", deployment), ("replica", replica.BaseAddress.AbsoluteUri), ("outcome", outcome)));
        if (attempt.HeadersSeconds is { } seconds) _replicaHeaders.Observe(labels, seconds);
        if (attempt.Failed || attempt.StatusCode == 429) _retries.Increment(Labels(("deployment", deployment)));
    }

    public string Render()
    {
        var text = new StringBuilder();
        _requests.Write(text);
        _duration.Write(text);
        Header(text, "inkwell_gateway_requests_in_flight", "Requests the gateway is serving now, by deployment (its queue depth)", "gauge");
        foreach (var (deployment, cell) in _inFlight.OrderBy(p => p.Key, StringComparer.Ordinal))
            Sample(text, "inkwell_gateway_requests_in_flight", Labels(("deployment", deployment)), Volatile.Read(ref cell[0]));
        _attempts.Write(text);
        _retries.Write(text);
        _replicaHeaders.Write(text);
        var sets = ReplicaSets().OrderBy(s => s.Name, StringComparer.Ordinal).ToList();
        Header(text, "inkwell_gateway_replica_outstanding", "Requests in flight on a replica from this gateway", "gauge");
        foreach (var set in sets)
            foreach (var replica in set.Replicas)
                Sample(text, "inkwell_gateway_replica_outstanding", Labels(("deployment", set.Name), ("replica", replica.BaseAddress.AbsoluteUri)), replica.Outstanding);
        Header(text, "inkwell_gateway_replica_healthy", "1 while a replica is in rotation, 0 while ejected", "gauge");
        foreach (var set in sets)
            foreach (var replica in set.Replicas)
                Sample(text, "inkwell_gateway_replica_healthy", Labels(("deployment", set.Name), ("replica", replica.BaseAddress.AbsoluteUri)), replica.IsHealthy ? 1 : 0);
        return text.ToString();
    }

    private static void Header(StringBuilder text, string name, string help, string type) =>
        text.Append("# HELP ").Append(name).Append(' ').Append(help).Append("\n# TYPE ").Append(name).Append(' ').Append(type).Append('\n');

    private static void Sample(StringBuilder text, string name, string labels, double value) =>
        text.Append(name).Append(labels).Append(' ').Append(PrometheusRegistry.Format(value)).Append('\n');

    /// <summary>{a="x",b="y"} with the exposition format's escapes.</summary>
    internal static string Labels(params (string Name, string Value)[] labels) =>
        "{" + string.Join(",", labels.Select(l => $"{l.Name}=\"{l.Value.Replace("\\", "\\\\").Replace("\"", "\\\"").Replace("\n", "\\n")}\"")) + "}";

    /// <summary>Ends a request's in-flight count and records its status and duration, once.</summary>
    public sealed class RequestScope(GatewayMetrics metrics, string deployment, int[] cell, long started) : IDisposable
    {
        private int _done;

        /// <summary>The status the caller got; set before disposing (0 when the caller went away first).</summary>
        public int StatusCode { get; set; }

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) != 0) return;
            Interlocked.Decrement(ref cell[0]);
            var labels = Labels(("deployment", deployment));
            metrics._duration.Observe(labels, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds);
            metrics._requests.Increment(Labels(("deployment", deployment), ("code", StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture))));
        }
    }

    private sealed class LabeledCounter(string name, string help)
    {
        private readonly ConcurrentDictionary<string, long[]> _values = new(StringComparer.Ordinal);

        public void Increment(string labels) => Interlocked.Increment(ref _values.GetOrAdd(labels, _ => new long[1])[0]);

        public void Write(StringBuilder text)
        {
            Header(text, name, help, "counter");
            foreach (var (labels, cell) in _values.OrderBy(p => p.Key, StringComparer.Ordinal))
                Sample(text, name, labels, Interlocked.Read(ref cell[0]));
        }
    }

    private sealed class LabeledHistogram(string name, string help, double[] buckets)
    {
        private readonly ConcurrentDictionary<string, Series> _series = new(StringComparer.Ordinal);

        private sealed class Series(int bucketCount)
        {
            public readonly long[] Counts = new long[bucketCount + 1]; // the last is +Inf
            public double Sum;
        }

        public void Observe(string labels, double value)
        {
            var series = _series.GetOrAdd(labels, _ => new Series(buckets.Length));
            var bucket = Array.FindIndex(buckets, b => value <= b);
            lock (series)
            {
                series.Counts[bucket < 0 ? buckets.Length : bucket]++;
                series.Sum += value;
            }
        }

        public void Write(StringBuilder text)
        {
            Header(text, name, help, "histogram");
            foreach (var (labels, series) in _series.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                lock (series)
                {
                    long cumulative = 0;
                    for (int i = 0; i <= buckets.Length; i++)
                    {
                        cumulative += series.Counts[i];
                        var le = i < buckets.Length ? PrometheusRegistry.Format(buckets[i]) : "+Inf";
                        Sample(text, name + "_bucket", labels[..^1] + $",le=\"{le}\"}}", cumulative);
                    }
                    Sample(text, name + "_sum", labels, series.Sum);
                    Sample(text, name + "_count", labels, cumulative);
                }
            }
        }
    }
}
