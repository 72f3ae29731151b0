namespace Inkwell.Server.Metrics;

/// <summary>The metrics TGI's router exports, under its names, plus time to first token.</summary>
public sealed class ServerMetrics
{
    private static readonly double[] Seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    private static readonly double[] TokenCounts = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];

    public PrometheusRegistry Registry { get; } = new();
    public Counter RequestCount { get; }
    public Counter RequestSuccess { get; }
    public Counter RequestFailure { get; }
    public Gauge QueueSize { get; }
    public Gauge BatchCurrentSize { get; }
    public Histogram RequestDuration { get; }
    public Histogram ValidationDuration { get; }
    public Histogram QueueDuration { get; }
    public Histogram InferenceDuration { get; }
    public Histogram TimePerToken { get; }
    public Histogram GeneratedTokens { get; }
    public Histogram InputLength { get; }
    public Histogram MaxNewTokens { get; }
    public Histogram BatchForwardDuration { get; }
    public Histogram BatchDecodeDuration { get; }
    public Histogram TimeToFirstToken { get; }
    public Gauge KvBlocksFree { get; }
    public Gauge KvBlocksTotal { get; }
    public Gauge PermitsInUse { get; }
    public Gauge PrefixCacheHitTokens { get; }

    public ServerMetrics()
    {
        var r = Registry;
        RequestCount = r.Counter("tgi_request_count", "Requests received");
        RequestSuccess = r.Counter("tgi_request_success", "Requests that completed");
        RequestFailure = r.Counter("tgi_request_failure", "Requests that failed, by error type", "err");
        QueueSize = r.Gauge("tgi_queue_size", "Requests waiting in the queue");
        BatchCurrentSize = r.Gauge("tgi_batch_current_size", "Requests in the running batch");
        RequestDuration = r.Histogram("tgi_request_duration", "End-to-end request time in seconds", Seconds);
        ValidationDuration = r.Histogram("tgi_request_validation_duration", "Validation time in seconds", Seconds);
        QueueDuration = r.Histogram("tgi_request_queue_duration", "Time in the queue in seconds", Seconds);
        InferenceDuration = r.Histogram("tgi_request_inference_duration", "Inference time in seconds", Seconds);
        TimePerToken = r.Histogram("tgi_request_mean_time_per_token_duration", "Mean time per generated token in seconds", Seconds);
        GeneratedTokens = r.Histogram("tgi_request_generated_tokens", "Generated tokens per request", TokenCounts);
        InputLength = r.Histogram("tgi_request_input_length", "Prompt tokens per request", TokenCounts);
        MaxNewTokens = r.Histogram("tgi_request_max_new_tokens", "max_new_tokens per request", TokenCounts);
        BatchForwardDuration = r.Histogram("tgi_batch_forward_duration", "Forward pass time in seconds, by method", Seconds, "method");
        BatchDecodeDuration = r.Histogram("tgi_batch_decode_duration", "Engine step time in seconds, by method", Seconds, "method");
        TimeToFirstToken = r.Histogram("tgi_request_time_to_first_token_duration", "Time from arrival to the first generated token in seconds (Inkwell addition)", Seconds);
        // Inkwell additions, so leaks show from outside: after the last request every block and permit is free again.
        KvBlocksFree = r.Gauge("inkwell_kv_blocks_free", "KV cache blocks free (cached prefix blocks no request holds count as free)");
        KvBlocksTotal = r.Gauge("inkwell_kv_blocks_total", "KV cache blocks in the pool");
        PermitsInUse = r.Gauge("inkwell_permits_in_use", "Concurrency permits held (one per running sequence)");
        // Over tgi_request_input_length_sum this is the prefix-cache hit rate (what cache-aware routing is judged by).
        PrefixCacheHitTokens = r.Gauge("inkwell_prefix_cache_hit_tokens", "Prompt tokens since start whose KV came from the prefix cache (full cached blocks times block size)");
    }
}
