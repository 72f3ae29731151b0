using System.Diagnostics;
using System.Globalization;
using Inkwell.Engine.Requests;
using Inkwell.Server.Generation;
using Inkwell.Server.Hosting;
using Inkwell.Server.Http;
using Inkwell.Server.Metrics;
using Inkwell.Server.Telemetry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Inkwell.Server.Tgi;

/// <summary>TGI's REST routes: /generate, /generate_stream, / , /tokenize, /info, /health, /metrics.</summary>
public static class TgiEndpoints
{
    public static IEndpointRouteBuilder MapTgi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/generate", (HttpContext ctx, ServerState s) => Generate(ctx, s, forceStream: false));
        app.MapPost("/generate_stream", (HttpContext ctx, ServerState s) => Generate(ctx, s, forceStream: true));
        app.MapPost("/", (HttpContext ctx, ServerState s) => Generate(ctx, s, forceStream: null));
        app.MapPost("/tokenize", Tokenize);
        app.MapGet("/info", (ServerState s) => Results.Json(s.Info(), TgiJson.Options));
        app.MapGet("/health", (ServerState s) =>
            s.Service.Drain.IsDraining ? Results.Json(new ErrorResponseDto(GenerationService.ShuttingDownMessage, "unhealthy"), TgiJson.Options, statusCode: 503)
            : s.Service.Engine.IsHealthy ? Results.Ok()
            : Results.Json(new ErrorResponseDto("unhealthy", "healthcheck"), TgiJson.Options, statusCode: 503));
        app.MapGet("/metrics", (ServerState s) =>
        {
            s.RefreshGauges();
            return Results.Text(s.Metrics.Registry.Render(), "text/plain; version=0.0.4; charset=utf-8");
        });
        return app;
    }

    private static async Task Generate(HttpContext ctx, ServerState s, bool? forceStream)
    {
        long arrival = Stopwatch.GetTimestamp();
        if (await ReadBodyAsync(ctx, s) is not { } dto) return;
        bool stream = forceStream ?? dto.Stream;
        using var telemetry = RequestTelemetry.Begin(s.Metrics, "tgi", stream ? RequestKind.Stream : RequestKind.Single, inputs: 1, arrival);
        ValidGenerateRequest v;
        GenerationRun run;
        try
        {
            v = s.Validator.Validate(dto, stream);
            run = await s.Service.StartAsync(v.Input, ctx.RequestAborted, telemetry);
        }
        catch (ValidationException e)
        {
            telemetry.Failed("validation", e.Message);
            await WriteError(ctx, 422, "Input validation error: " + e.Message, "validation");
            return;
        }
        catch (GenerationException e)
        {
            telemetry.Failed(e);
            await WriteError(ctx, e);
            return;
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            telemetry.Failed("cancelled");
            return;
        }
        await using (run)
        {
            var validationTime = telemetry.Elapsed;
            try
            {
                if (stream) await Stream(ctx, v, run);
                else await Unary(ctx, v, run, telemetry, validationTime, wrapInArray: forceStream is null);
            }
            catch (GenerationException e) when (!ctx.Response.HasStarted)
            {
                telemetry.Failed(e);
                await WriteError(ctx, e);
            }
            catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
            {
                // The run counts its unfinished sequences as cancelled when disposed.
            }
        }
    }

    /// <summary>The one mapping of the service's error kinds to TGI's statuses and error types.</summary>
    private static Task WriteError(HttpContext ctx, GenerationException e)
    {
        var (status, type, message) = e.Kind switch
        {
            GenerationErrorKind.InvalidRequest or GenerationErrorKind.ContextLength => (422, "validation", "Input validation error: " + e.Message),
            GenerationErrorKind.Overloaded => (429, "overloaded", e.Message),
            GenerationErrorKind.Unavailable => (503, "unhealthy", e.Message),
            _ => (424, "generation", e.Message),
        };
        return WriteError(ctx, status, message, type);
    }

    private static async Task Unary(HttpContext ctx, ValidGenerateRequest v, GenerationRun run, RequestTelemetry telemetry, TimeSpan validationTime, bool wrapInArray)
    {
        // best_of: the most likely sequence answers, the others come as best_of_sequences.
        var results = (await run.ResultsAsync(ctx.RequestAborted)).OrderByDescending(r => r.Tokens.Sum(t => (double)t.LogProb)).ToList();
        var best = results[0];
        int inputLength = run.Inputs[0].InputLength;
        SetTimingHeaders(ctx, best, telemetry.Elapsed, validationTime, inputLength);
        string text = v.ReturnFullText ? v.Inputs + best.GeneratedText : best.GeneratedText;
        DetailsDto? details = null;
        if (v.Details)
        {
            var others = results.Count > 1
                ? results.Skip(1).Select(r => new BestOfSequenceDto(v.ReturnFullText ? v.Inputs + r.GeneratedText : r.GeneratedText,
                    FinishReasonText(r.FinishReason), r.GeneratedTokenCount, r.Seed, Prefill(r), Tokens(r.Tokens), TopTokens(r))).ToList()
                : null;
            details = new DetailsDto(FinishReasonText(best.FinishReason), best.GeneratedTokenCount, best.Seed, Prefill(best), Tokens(best.Tokens), TopTokens(best), others);
        }
        var response = new GenerateResponseDto(text, details);
        ctx.Response.StatusCode = 200;
        if (wrapInArray) await ctx.Response.WriteAsJsonAsync(new[] { response }, TgiJson.Options);
        else await ctx.Response.WriteAsJsonAsync(response, TgiJson.Options);
    }

    private static async Task Stream(HttpContext ctx, ValidGenerateRequest v, GenerationRun run)
    {
        ctx.Response.Headers["x-compute-type"] = "cpu";
        await EventStream.WriteAsync(ctx.Response, StreamEvents(ctx, v, run), TgiJson.Options, ctx.RequestAborted);
    }

    /// <summary>TGI's stream: one event per token (its own text), the last with the whole text and details; or an error event.</summary>
    private static async IAsyncEnumerable<object> StreamEvents(HttpContext ctx, ValidGenerateRequest v, GenerationRun run)
    {
        await foreach (var (_, e) in run.ReadAllAsync(ctx.RequestAborted))
        {
            switch (e)
            {
                case TokenGenerated { Final: { } r } last:
                    string text = v.ReturnFullText ? v.Inputs + r.GeneratedText : r.GeneratedText;
                    var details = v.Details ? new StreamDetailsDto(FinishReasonText(r.FinishReason), r.GeneratedTokenCount, r.Seed, run.Inputs[0].InputLength) : null;
                    yield return new StreamResponseDto(last.Index + 1, Token(last.Token), TopList(last.TopTokens), text, details);
                    yield break;
                case TokenGenerated t:
                    yield return new StreamResponseDto(t.Index + 1, Token(t.Token), TopList(t.TopTokens), null, null);
                    break;
                case GenerationFailed f:
                    yield return new ErrorResponseDto(f.Message, "generation");
                    yield break;
            }
        }
    }

    private static async Task Tokenize(HttpContext ctx, ServerState s)
    {
        long arrival = Stopwatch.GetTimestamp();
        if (await ReadBodyAsync(ctx, s) is not { } dto) return;
        string inputs = dto.Inputs ?? "";
        if (inputs.Length == 0)
        {
            await WriteError(ctx, 422, "Input validation error: `inputs` cannot be empty", "validation");
            return;
        }
        int? truncate = dto.Parameters?.Truncate;
        try
        {
            s.Validator.CheckTruncate(truncate);
        }
        catch (ValidationException e)
        {
            await WriteError(ctx, 422, "Input validation error: " + e.Message, "validation");
            return;
        }
        // `truncate` as /generate applies it (TGI's prepare_input does the same here), so a client can see what
        // generation keeps. The input limit then holds: the body limit bounds the work, this bounds the answer.
        var tokenizer = s.Tokenizer;
        var encoded = tokenizer.EncodeToTokens(inputs);
        IReadOnlyList<Inkwell.Models.Tokenizers.EncodedToken> tokens = truncate is { } keep
            ? GenerationService.Truncate(Enumerable.Range(0, encoded.Count).ToList(), keep,
                tokenizer.AddBos && encoded.Count > 0 && encoded[0].Id == tokenizer.BosId ? 0 : null).Select(i => encoded[i]).ToList()
            : encoded;
        int maxInput = s.Validator.Limits.MaxInputTokens;
        if (tokens.Count > maxInput)
        {
            await WriteError(ctx, 422, $"Input validation error: `inputs` must have less than {maxInput} tokens. Given: {tokens.Count}", "validation");
            return;
        }
        var list = tokens.Select(t => new SimpleTokenDto(t.Id, t.End > t.Start ? inputs[t.Start..t.End] : s.Tokenizer.TokenText(t.Id), t.Start, t.End)).ToList();
        s.Metrics.ObserveTokenize(inputs: 1, tokens.Count, Stopwatch.GetElapsedTime(arrival));
        await ctx.Response.WriteAsJsonAsync(list, TgiJson.Options);
    }

    /// <summary>The body through the one reader every API shares; on a refusal writes TGI's error and returns null.</summary>
    private static async Task<GenerateRequestDto?> ReadBodyAsync(HttpContext ctx, ServerState s)
    {
        try
        {
            return await JsonBody.ReadAsync<GenerateRequestDto>(ctx.Request, TgiJson.Options, ctx.RequestAborted);
        }
        catch (RequestBodyException e)
        {
            s.Metrics.RequestFailure.Increment("validation");
            // TGI (axum's Json) answers a body that does not deserialize with 422; transport problems keep their status.
            int status = e.TransportStatus ?? 422;
            string message = e.TransportStatus is null ? $"Failed to deserialize the JSON body into the target type: {e.Message}" : e.Message;
            await WriteError(ctx, status, message, ApiErrors.TgiType(status));
            return null;
        }
    }

    private static void SetTimingHeaders(HttpContext ctx, GenerationResult r, TimeSpan total, TimeSpan validation, int inputLength)
    {
        string Ms(TimeSpan t) => ((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        var h = ctx.Response.Headers;
        h["x-compute-type"] = "cpu";
        h["x-compute-time"] = total.TotalSeconds.ToString("R", CultureInfo.InvariantCulture);
        h["x-compute-characters"] = r.GeneratedText.Length.ToString(CultureInfo.InvariantCulture);
        h["x-total-time"] = Ms(total);
        h["x-validation-time"] = Ms(validation);
        h["x-queue-time"] = Ms(r.QueueTime);
        h["x-inference-time"] = Ms(r.InferenceTime);
        h["x-time-per-token"] = Ms(r.GeneratedTokenCount > 0 ? r.InferenceTime / r.GeneratedTokenCount : TimeSpan.Zero);
        h["x-prompt-tokens"] = inputLength.ToString(CultureInfo.InvariantCulture);
        h["x-generated-tokens"] = r.GeneratedTokenCount.ToString(CultureInfo.InvariantCulture);
    }

    public static Task WriteError(HttpContext ctx, int status, string message, string type)
    {
        ctx.Response.StatusCode = status;
        return ctx.Response.WriteAsJsonAsync(new ErrorResponseDto(message, type), TgiJson.Options);
    }

    public static string FinishReasonText(FinishReason r) => r switch
    {
        FinishReason.Length => "length",
        FinishReason.EosToken => "eos_token",
        FinishReason.StopSequence => "stop_sequence",
        _ => r.ToString().ToLowerInvariant(),
    };

    private static TokenDto Token(TokenInfo t) => new(t.Id, t.Text, float.IsNaN(t.LogProb) ? null : t.LogProb, t.Special);
    private static List<TokenDto> Tokens(IEnumerable<TokenInfo> ts) => ts.Select(Token).ToList();
    private static List<TokenDto> TopList(IReadOnlyList<TokenInfo>? ts) => ts is null ? [] : Tokens(ts);
    private static List<PrefillTokenDto> Prefill(GenerationResult r) =>
        r.Prefill?.Select(t => new PrefillTokenDto(t.Id, t.Text, float.IsNaN(t.LogProb) ? null : t.LogProb)).ToList() ?? [];
    private static List<IReadOnlyList<TokenDto>>? TopTokens(GenerationResult r) =>
        r.TopTokens?.Select(l => (IReadOnlyList<TokenDto>)Tokens(l)).ToList();
}
