using Inkwell.Engine;

namespace Inkwell.Server.Metrics;

/// <summary>TGIS's request kinds (the `kind` label): one input, several inputs in one call, or a stream.</summary>
public enum RequestKind { Single, Batch, Stream }

/// <summary>
/// Every metric TGIS's router documents (all 37 `tgi_*` names, with their labels and, for counters, TGIS's `_total`
/// twins), the two of Hugging Face TGI's that TGIS lacks, and Inkwell's own leak gauges. docs/operations.md lists
/// each name with where it is counted. Every API (TGI, OpenAI, TGIS gRPC, both tokenize routes) records here.
/// </summary>
public sealed class ServerMetrics
{
    private static readonly double[] Seconds = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];
    private static readonly double[] TokenCounts = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192];
    private static readonly double[] BatchSizes = [1, 2, 4, 8, 16, 32, 64, 128, 256];

    /// <summary>TGIS's `err` values of tgi_request_failure.</summary>
    public static readonly string[] FailureKinds = ["validation", "conc_limit", "queue_full", "unavailable", "generate", "cancelled", "timeout"];
    /// <summary>TGIS's StopReason names (the `stop_reason` label), as its proto spells them.</summary>
    public static readonly string[] StopReasons = ["MAX_TOKENS", "EOS_TOKEN", "STOP_SEQUENCE", "TIME_LIMIT", "TOKEN_LIMIT"];
    /// <summary>The `method` label of the batch metrics: a step that prefills any prompt tokens, or one that only decodes.</summary>
    public static readonly string[] StepMethods = ["prefill", "next_token"];
    /// <summary>The `makeup` label: a step of one kind of work, or prompt chunks and decode rows in one forward pass.</summary>
    public static readonly string[] StepMakeups = ["single_only", "mixed"];

    public PrometheusRegistry Registry { get; } = new();

    public Counter RequestCount { get; }
    public Counter RequestInputCount { get; }
    public Counter RequestFailure { get; }
    public Counter RequestSuccess { get; }
    public Histogram MaxNewTokens { get; }
    public Histogram InputLength { get; }
    public Histogram RawInputLength { get; }
    public Histogram TimePerToken { get; }
    public Histogram ValidationDuration { get; }
    public Histogram QueueDuration { get; }
    public Histogram GeneratedTokens { get; }
    public Histogram TotalTokens { get; }
    public Histogram RequestDuration { get; }
    public Histogram InferenceDuration { get; }
    public Counter BatchConcatenationCount { get; }
    public Counter BatchInferenceCount { get; }
    public Counter BatchInferenceSuccess { get; }
    public Counter BatchInferenceFailure { get; }
    public Histogram BatchInferenceBatchSize { get; }
    public Histogram BatchInferenceDuration { get; }
    public Histogram BatchInferenceForwardDuration { get; }
    public Histogram BatchInferenceTokprocDuration { get; }
    public Histogram BatchNextTokens { get; }
    public Gauge BatchCurrentSize { get; }
    public Gauge BatchInputTokens { get; }
    public Gauge BatchMaxRemainingTokens { get; }
    public Gauge QueueSize { get; }
    public Counter QueueJump { get; }
    public Counter GranularBatchAddition { get; }
    public Counter PrefillWeightLimitExceeded { get; }
    public Counter PrefillPaddingLimitExceeded { get; }
    public Counter PromptLoadFailure { get; }
    public Histogram PromptLoadDuration { get; }
    public Counter TokenizeRequestCount { get; }
    public Counter TokenizeRequestInputCount { get; }
    public Histogram TokenizeRequestTokens { get; }
    public Histogram TokenizeRequestDuration { get; }

    // Hugging Face TGI's names for the step timings, and time to first token.
    public Histogram BatchForwardDuration { get; }
    public Histogram BatchDecodeDuration { get; }
    public Histogram TimeToFirstToken { get; }

    public Gauge KvBlocksFree { get; }
    public Gauge KvBlocksTotal { get; }
    public Gauge PermitsInUse { get; }
    public Counter SpecDraftedTokens { get; }
    public Counter SpecAcceptedTokens { get; }
    public Gauge PrefixCacheHitTokens { get; }

    /// <param name="maxBatchPrefillTokens">--max-batch-prefill-tokens: a step that prefills this many tokens met the prefill limit.</param>
    public ServerMetrics(int maxBatchPrefillTokens = int.MaxValue)
    {
        _maxBatchPrefillTokens = maxBatchPrefillTokens;
        var r = Registry;
        string[] kind = ["kind"], method = ["method"], methodMakeup = ["method", "makeup"];
        RequestCount = r.Counter("tgi_request_count", "Count of generate requests (a batch of n counts as 1)", kind, totalTwin: true);
        RequestInputCount = r.Counter("tgi_request_input_count", "Count of generate request inputs (a batch of n counts as n)", totalTwin: true);
        RequestFailure = r.Counter("tgi_request_failure", "Count of failed requests, by error type", ["err"], totalTwin: true);
        RequestSuccess = r.Counter("tgi_request_success", "Count of successful requests (each sequence), by stop reason and kind", ["stop_reason", "kind"], totalTwin: true);
        MaxNewTokens = r.Histogram("tgi_request_max_new_tokens", "Value of max_new_tokens (resolved) per input", TokenCounts);
        InputLength = r.Histogram("tgi_request_input_length", "Input length in tokens of inputs that passed the length checks", TokenCounts);
        RawInputLength = r.Histogram("tgi_request_raw_input_length", "Input length in tokens right after tokenizing (including inputs refused as too long)", TokenCounts);
        TimePerToken = r.Histogram("tgi_request_mean_time_per_token_duration", "Mean time per generated token, per sequence (seconds)", Seconds);
        ValidationDuration = r.Histogram("tgi_request_validation_duration", "Request validation time: arrival to every input tokenized, checked and queued (seconds)", Seconds);
        QueueDuration = r.Histogram("tgi_request_queue_duration", "Time a sequence waited in the queue (seconds)", Seconds);
        GeneratedTokens = r.Histogram("tgi_request_generated_tokens", "Tokens generated per sequence", TokenCounts);
        TotalTokens = r.Histogram("tgi_request_total_tokens", "Sequence length at the end (input tokens + generated tokens)", TokenCounts);
        RequestDuration = r.Histogram("tgi_request_duration", "End-to-end time of a request, arrival to its sequence's last token (seconds)", Seconds);
        InferenceDuration = r.Histogram("tgi_request_inference_duration", "Time from a sequence's first scheduled step to its last token (seconds)", Seconds);
        BatchConcatenationCount = r.Counter("tgi_batch_concatenation_count", "Steps where new prompts joined a batch that was already decoding", totalTwin: true);
        BatchInferenceCount = r.Counter("tgi_batch_inference_count", "Count of engine steps (model forward passes)", method, totalTwin: true);
        BatchInferenceSuccess = r.Counter("tgi_batch_inference_success", "Count of engine steps that completed", method, totalTwin: true);
        BatchInferenceFailure = r.Counter("tgi_batch_inference_failure", "Count of engine steps that failed", ["method", "reason"], totalTwin: true);
        BatchInferenceBatchSize = r.Histogram("tgi_batch_inference_batch_size", "Sequences in each engine step", BatchSizes, method);
        BatchInferenceDuration = r.Histogram("tgi_batch_inference_duration", "Time of each engine step (seconds)", Seconds, methodMakeup);
        BatchInferenceForwardDuration = r.Histogram("tgi_batch_inference_forward_duration", "Time of each model forward pass (seconds)", Seconds, methodMakeup);
        BatchInferenceTokprocDuration = r.Histogram("tgi_batch_inference_tokproc_duration", "Time of each step outside the forward pass: scheduling, sampling, token processing (seconds)", Seconds, methodMakeup);
        BatchNextTokens = r.Histogram("tgi_batch_next_tokens", "Tokens in each prefill step (prompt chunks plus decode rows; no padding)", TokenCounts);
        BatchCurrentSize = r.Gauge("tgi_batch_current_size", "Current batch size (running sequences)");
        BatchInputTokens = r.Gauge("tgi_batch_input_tokens", "Tokens of the sequences in the current batch (prompt and generated so far; no padding)");
        BatchMaxRemainingTokens = r.Gauge("tgi_batch_max_remaining_tokens", "Largest number of tokens a sequence in the current batch may still generate");
        QueueSize = r.Gauge("tgi_queue_size", "Current number of queued sequences");
        QueueJump = r.Counter("tgi_queue_jump", "Queue jumps while filling a batch (Inkwell admits in arrival order: always 0)", totalTwin: true);
        GranularBatchAddition = r.Counter("tgi_granular_batch_addition", "Batch additions by TGIS's granular padding analysis (no padding here: always 0)", totalTwin: true);
        PrefillWeightLimitExceeded = r.Counter("tgi_prefill_weight_limit_exceeded", "Steps whose prefill used the whole --max-batch-prefill-tokens budget", totalTwin: true);
        PrefillPaddingLimitExceeded = r.Counter("tgi_prefill_padding_limit_exceeded", "Batches stopped by TGIS's padding proportion limit (no padding here: always 0)", totalTwin: true);
        PromptLoadFailure = r.Counter("tgi_prompt_load_failure", "Count of failed prompt-prefix (soft prompt) loads", totalTwin: true);
        PromptLoadDuration = r.Histogram("tgi_prompt_load_duration", "Time to load a prompt prefix from its file (seconds; cache hits are not loads)", Seconds);
        TokenizeRequestCount = r.Counter("tgi_tokenize_request_count", "Count of tokenize requests (a batch of n counts as 1)", totalTwin: true);
        TokenizeRequestInputCount = r.Counter("tgi_tokenize_request_input_count", "Count of tokenize request inputs (a batch of n counts as n)", totalTwin: true);
        TokenizeRequestTokens = r.Histogram("tgi_tokenize_request_tokens", "Tokens per tokenize request", TokenCounts);
        TokenizeRequestDuration = r.Histogram("tgi_tokenize_request_duration", "Tokenize request duration (seconds)", Seconds);

        BatchForwardDuration = r.Histogram("tgi_batch_forward_duration", "Forward pass time in seconds, by method (Hugging Face TGI's name)", Seconds, method);
        BatchDecodeDuration = r.Histogram("tgi_batch_decode_duration", "Engine step time in seconds, by method (Hugging Face TGI's name)", Seconds, method);
        TimeToFirstToken = r.Histogram("tgi_request_time_to_first_token_duration", "Time from arrival to the first generated token in seconds (Inkwell addition)", Seconds);
        // Inkwell additions, so leaks show from outside: after the last request every block and permit is free again.
        KvBlocksFree = r.Gauge("inkwell_kv_blocks_free", "KV cache blocks free (cached prefix blocks no request holds count as free)");
        KvBlocksTotal = r.Gauge("inkwell_kv_blocks_total", "KV cache blocks in the pool");
        PermitsInUse = r.Gauge("inkwell_permits_in_use", "Concurrency permits held (one per running sequence)");
        // Over tgi_request_input_length_sum this is the prefix-cache hit rate (what cache-aware routing is judged by).
        PrefixCacheHitTokens = r.Gauge("inkwell_prefix_cache_hit_tokens", "Prompt tokens since start whose KV came from the prefix cache (full cached blocks times block size)");
        SpecDraftedTokens = r.Counter("inkwell_spec_drafted_tokens_total", "Speculative decoding: draft tokens verified by the target");
        SpecAcceptedTokens = r.Counter("inkwell_spec_accepted_tokens_total", "Speculative decoding: draft tokens the target accepted");
        _specDrafted = SpecDraftedTokens.WithLabels();
        _specAccepted = SpecAcceptedTokens.WithLabels();

        _nextTokens = BatchNextTokens.WithLabels();
        _concatenations = BatchConcatenationCount.WithLabels();
        _prefillWeightLimit = PrefillWeightLimitExceeded.WithLabels();

        // Every closed set of label values shows in the first scrape, at zero.
        foreach (var k in Enum.GetValues<RequestKind>())
        {
            RequestCount.Declare(KindLabel(k));
            foreach (var reason in StopReasons) RequestSuccess.Declare(reason, KindLabel(k));
        }
        foreach (var err in FailureKinds) RequestFailure.Declare(err);
        foreach (var m in StepMethods)
        {
            BatchInferenceCount.Declare(m);
            BatchInferenceSuccess.Declare(m);
            BatchInferenceFailure.Declare(m, "error");
        }
    }

    private readonly int _maxBatchPrefillTokens;
    private readonly HistogramSeries _nextTokens;
    private readonly CounterSeries _concatenations, _prefillWeightLimit, _specDrafted, _specAccepted;

    public static string KindLabel(RequestKind kind) => kind switch
    {
        RequestKind.Single => "single",
        RequestKind.Batch => "batch",
        _ => "stream",
    };

    /// <summary>The step metrics of one (method, makeup), resolved once so the engine thread records without lookups or allocation.</summary>
    private sealed record StepSeries(CounterSeries Count, CounterSeries Success, HistogramSeries BatchSize, HistogramSeries Duration,
        HistogramSeries Forward, HistogramSeries Tokproc, HistogramSeries TgiForward, HistogramSeries TgiDecode);

    private StepSeries Step(string method, string makeup)
    {
        string tgiMethod = method == "prefill" ? "prefill" : "decode";
        return new StepSeries(BatchInferenceCount.WithLabels(method), BatchInferenceSuccess.WithLabels(method), BatchInferenceBatchSize.WithLabels(method),
            BatchInferenceDuration.WithLabels(method, makeup), BatchInferenceForwardDuration.WithLabels(method, makeup),
            BatchInferenceTokprocDuration.WithLabels(method, makeup), BatchForwardDuration.WithLabels(tgiMethod), BatchDecodeDuration.WithLabels(tgiMethod));
    }

    private StepSeries? _prefillOnly, _prefillMixed, _decodeOnly;

    /// <summary>One engine step (on the engine thread): method prefill when it computes any prompt tokens, mixed when decode rows share it.</summary>
    public void ObserveStep(EngineStepReport step)
    {
        var series = step.PrefillTokens == 0 ? _decodeOnly ??= Step("next_token", "single_only")
            : step.DecodeTokens > 0 ? _prefillMixed ??= Step("prefill", "mixed")
            : _prefillOnly ??= Step("prefill", "single_only");
        series.Count.Add();
        series.Success.Add();
        series.BatchSize.Observe(step.BatchSize);
        series.Duration.Observe(step.StepSeconds);
        series.Forward.Observe(step.ForwardSeconds);
        series.Tokproc.Observe(Math.Max(0, step.StepSeconds - step.ForwardSeconds));
        series.TgiForward.Observe(step.ForwardSeconds);
        series.TgiDecode.Observe(step.StepSeconds);
        if (step.PrefillTokens > 0)
        {
            _nextTokens.Observe(step.PrefillTokens + step.DecodeTokens);
            if (step.DecodeTokens > 0) _concatenations.Add();
            if (step.PrefillTokens >= _maxBatchPrefillTokens) _prefillWeightLimit.Add();
        }
        if (step.DraftedTokens > 0)
        {
            _specDrafted.Add(step.DraftedTokens);
            _specAccepted.Add(step.AcceptedTokens);
        }
    }

    /// <summary>A tokenize call (TGI /tokenize, TGIS Tokenize) of <paramref name="inputs"/> texts.</summary>
    public void ObserveTokenize(int inputs, long tokens, TimeSpan duration)
    {
        TokenizeRequestCount.Increment();
        TokenizeRequestInputCount.Add(inputs);
        TokenizeRequestTokens.Observe(tokens);
        TokenizeRequestDuration.Observe(duration.TotalSeconds);
    }
}
