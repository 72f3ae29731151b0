using System.Diagnostics;
using Inkwell.Engine.Requests;
using Inkwell.Server.Generation;
using Inkwell.Server.Metrics;

namespace Inkwell.Server.Telemetry;

/// <summary>
/// What one API call contributes to /metrics and to the trace, recorded in one place for every API: the front end
/// begins it once the call's kind is known (TGI, OpenAI, TGIS gRPC), refusals before a run count as failures here,
/// and the <see cref="GenerationRun"/> reports each sequence's end (success by stop reason, timings, the queue /
/// prefill / decode spans) and any cancellation. Dispose ends the request's span.
/// </summary>
public sealed class RequestTelemetry : IDisposable
{
    private readonly ServerMetrics _metrics;
    private readonly long _arrival;
    private int _failureCounted;

    private RequestTelemetry(ServerMetrics metrics, string api, RequestKind kind, long arrival)
    {
        _metrics = metrics;
        Api = api;
        Kind = kind;
        _arrival = arrival;
        // A child of the transport's span (ASP.NET Core's HTTP or gRPC request) when tracing is on; null when off.
        Activity = Tracing.Source.StartActivity("generate", ActivityKind.Internal, default(ActivityContext),
            startTime: DateTimeOffset.UtcNow - Stopwatch.GetElapsedTime(arrival));
        Activity?.SetTag("inkwell.api", api);
        Activity?.SetTag("inkwell.kind", ServerMetrics.KindLabel(kind));
    }

    public string Api { get; }
    public RequestKind Kind { get; }
    /// <summary>The request's span ("generate"); null when nobody listens.</summary>
    public Activity? Activity { get; }
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_arrival);

    /// <summary>
    /// Counts the call (tgi_request_count by kind, tgi_request_input_count) and opens its span.
    /// </summary>
    /// <param name="arrival">When the call arrived (<see cref="Stopwatch.GetTimestamp"/>), so validation time includes reading the body.</param>
    public static RequestTelemetry Begin(ServerMetrics metrics, string api, RequestKind kind, int inputs, long arrival)
    {
        metrics.RequestCount.Increment(ServerMetrics.KindLabel(kind));
        metrics.RequestInputCount.Add(inputs);
        return new RequestTelemetry(metrics, api, kind, arrival);
    }

    /// <summary>A failure before or outside the run (validation, overload, shutdown): counted once per call.</summary>
    public void Failed(string err, string? message = null)
    {
        if (Interlocked.Exchange(ref _failureCounted, 1) != 0) return;
        _metrics.RequestFailure.Increment(err);
        Activity?.SetStatus(ActivityStatusCode.Error, message ?? err);
        Activity?.SetTag("inkwell.error", err);
    }

    public void Failed(GenerationException e) => Failed(FailureLabel(e.Kind), e.Message);

    /// <summary>Every input is tokenized, checked and queued: validation ends here.</summary>
    internal void Queued(IReadOnlyList<PreparedInput> inputs, DateTimeOffset queuedAt)
    {
        _metrics.ValidationDuration.Observe(Elapsed.TotalSeconds);
        if (Activity is not { } parent) return;
        int inputTokens = 0;
        foreach (var input in inputs) inputTokens += input.InputLength;
        parent.SetTag("gen_ai.usage.input_tokens", inputTokens);
        Span("validate", parent, parent.StartTimeUtc, queuedAt, choice: null, span => span.SetTag("inkwell.inputs", inputs.Count));
    }

    /// <summary>
    /// A sequence ended with a result: its success, timings and spans (queue, prefill, decode) on the engine's clock,
    /// which starts when the sequence was queued.
    /// </summary>
    internal void SequenceFinished(int choice, PreparedInput input, GenerationResult r, DateTimeOffset queuedAt)
    {
        var m = _metrics;
        if (StopReasonLabel(r.FinishReason, input.LimitedBySequenceLength) is { } reason) m.RequestSuccess.Increment(reason, ServerMetrics.KindLabel(Kind));
        m.RequestDuration.Observe(Elapsed.TotalSeconds);
        m.QueueDuration.Observe(r.QueueTime.TotalSeconds);
        m.InferenceDuration.Observe(r.InferenceTime.TotalSeconds);
        m.GeneratedTokens.Observe(r.GeneratedTokenCount);
        m.TotalTokens.Observe(input.InputLength + r.GeneratedTokenCount);
        m.TimeToFirstToken.Observe(r.TimeToFirstToken.TotalSeconds);
        if (r.GeneratedTokenCount > 0) m.TimePerToken.Observe(r.InferenceTime.TotalSeconds / r.GeneratedTokenCount);

        if (Activity is not { } parent) return;
        var scheduled = queuedAt + r.QueueTime;
        var firstToken = queuedAt + (r.TimeToFirstToken > r.QueueTime ? r.TimeToFirstToken : r.QueueTime);
        var end = scheduled + r.InferenceTime;
        Span("queue", parent, queuedAt, scheduled, choice, null);
        Span("prefill", parent, scheduled, firstToken, choice, span => span.SetTag("gen_ai.usage.input_tokens", input.InputLength));
        Span("decode", parent, firstToken, end < firstToken ? firstToken : end, choice, span =>
        {
            span.SetTag("gen_ai.usage.output_tokens", r.GeneratedTokenCount);
            span.SetTag("gen_ai.response.finish_reasons", new[] { FinishReasonText(r.FinishReason) });
            if (r.Seed is { } seed) span.SetTag("inkwell.seed", (long)seed);
        });
    }

    /// <summary>A finished child span with its own times; the caller's current activity stays as it was.</summary>
    private static void Span(string name, Activity parent, DateTimeOffset start, DateTimeOffset end, int? choice, Action<Activity>? tag)
    {
        var current = Activity.Current;
        try
        {
            using var span = Tracing.Source.StartActivity(name, ActivityKind.Internal, parent.Context, startTime: start);
            if (span is null) return;
            if (choice is { } c) span.SetTag("inkwell.sequence", c);
            tag?.Invoke(span);
            span.SetEndTime(end.UtcDateTime);
        }
        finally
        {
            Activity.Current = current;
        }
    }

    /// <summary>TGIS's `err` word for each error kind of the generation service.</summary>
    public static string FailureLabel(GenerationErrorKind kind) => kind switch
    {
        GenerationErrorKind.InvalidRequest or GenerationErrorKind.ContextLength => "validation",
        GenerationErrorKind.Overloaded => "conc_limit",
        GenerationErrorKind.Unavailable => "unavailable",
        _ => "generate",
    };

    /// <summary>TGIS's StopReason name for a finished sequence; null for the endings that are not a success.</summary>
    public static string? StopReasonLabel(FinishReason reason, bool limitedBySequenceLength) => reason switch
    {
        FinishReason.Length => limitedBySequenceLength ? "TOKEN_LIMIT" : "MAX_TOKENS",
        FinishReason.EosToken => "EOS_TOKEN",
        FinishReason.StopSequence => "STOP_SEQUENCE",
        FinishReason.TimeLimit => "TIME_LIMIT",
        _ => null,
    };

    private static string FinishReasonText(FinishReason reason) => StopReasonLabel(reason, false)?.ToLowerInvariant() ?? reason.ToString().ToLowerInvariant();

    public void Dispose() => Activity?.Dispose();
}
