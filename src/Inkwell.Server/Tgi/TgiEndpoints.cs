using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Inkwell.Engine.Requests;
using Inkwell.Server.Hosting;
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
        app.MapGet("/health", (ServerState s) => s.Service.Engine.IsHealthy
            ? Results.Ok()
            : Results.Json(new ErrorResponseDto("unhealthy", "healthcheck"), TgiJson.Options, statusCode: 503));
        app.MapGet("/metrics", (ServerState s) =>
        {
            s.RefreshGauges();
            return Results.Text(s.Metrics.Registry.Render(), "text/plain; version=0.0.4; charset=utf-8");
        });
        app.MapGet("/openapi.json", () => Results.Text(OpenApiDocument.Json, "application/json"));
        app.MapGet("/docs", () => Results.Content(OpenApiDocument.DocsHtml, "text/html"));
        return app;
    }

    private static async Task Generate(HttpContext ctx, ServerState s, bool? forceStream)
    {
        var started = Stopwatch.StartNew();
        s.Metrics.RequestCount.Increment();
        GenerateRequestDto? dto;
        try
        {
            dto = await JsonSerializer.DeserializeAsync<GenerateRequestDto>(ctx.Request.Body, TgiJson.Options, ctx.RequestAborted);
            if (dto is null) throw new JsonException("empty body");
        }
        catch (JsonException e)
        {
            s.Metrics.RequestFailure.Increment(labelValue: "validation");
            await WriteError(ctx, 422, $"Failed to deserialize the JSON body into the target type: {e.Message}", "validation");
            return;
        }
        bool stream = forceStream ?? dto.Stream;

        // Compiled off the engine thread and awaited; the validator reports its outcome in TGI's order.
        var grammarHook = dto.Parameters?.Grammar is { } grammar && s.Grammars is { } grammars
            ? await grammars.PrepareTgiAsync(grammar, ctx.RequestAborted) : null;
        ValidGenerateRequest v;
        try
        {
            v = s.Validator.Validate(dto, stream, grammarHook);
        }
        catch (ValidationException e)
        {
            s.Metrics.RequestFailure.Increment(labelValue: "validation");
            await WriteError(ctx, 422, "Input validation error: " + e.Message, "validation");
            return;
        }
        var validationTime = started.Elapsed;
        s.Metrics.ValidationDuration.Observe(validationTime.TotalSeconds);
        s.Metrics.InputLength.Observe(v.InputLength);
        s.Metrics.MaxNewTokens.Observe(v.MaxNewTokens);

        if (stream) await Stream(ctx, s, v, started, validationTime);
        else await Unary(ctx, s, v, started, validationTime, wrapInArray: forceStream is null);
    }

    private static async Task Unary(HttpContext ctx, ServerState s, ValidGenerateRequest v, Stopwatch started, TimeSpan validationTime, bool wrapInArray)
    {
        IReadOnlyList<GenerationResult> results;
        try
        {
            results = await s.Service.GenerateAsync(v, ctx.RequestAborted);
        }
        catch (OverloadedException e)
        {
            s.Metrics.RequestFailure.Increment(labelValue: "overloaded");
            await WriteError(ctx, 429, e.Message, "overloaded");
            return;
        }
        catch (GenerationException e)
        {
            s.Metrics.RequestFailure.Increment(labelValue: "generation");
            await WriteError(ctx, 424, e.Message, "generation");
            return;
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            s.Metrics.RequestFailure.Increment(labelValue: "cancelled");
            return;
        }

        var best = results[0];
        Observe(s, best, started);
        SetTimingHeaders(ctx, best, started, validationTime, v.InputLength);
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
        s.Metrics.RequestSuccess.Increment();
        ctx.Response.StatusCode = 200;
        if (wrapInArray) await ctx.Response.WriteAsJsonAsync(new[] { response }, TgiJson.Options);
        else await ctx.Response.WriteAsJsonAsync(response, TgiJson.Options);
    }

    private static async Task Stream(HttpContext ctx, ServerState s, ValidGenerateRequest v, Stopwatch started, TimeSpan validationTime)
    {
        var response = ctx.Response;
        IAsyncEnumerator<GenerationEvent> events;
        try
        {
            events = s.Service.StreamAsync(v, ctx.RequestAborted).GetAsyncEnumerator(ctx.RequestAborted);
            // The first MoveNext acquires the permit, so overload is still a plain 429 before any byte is sent.
            if (!await events.MoveNextAsync()) return;
        }
        catch (OverloadedException e)
        {
            s.Metrics.RequestFailure.Increment(labelValue: "overloaded");
            await WriteError(ctx, 429, e.Message, "overloaded");
            return;
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            s.Metrics.RequestFailure.Increment(labelValue: "cancelled");
            return;
        }

        response.StatusCode = 200;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["x-accel-buffering"] = "no";
        response.Headers["x-compute-type"] = "cpu";
        try
        {
            do
            {
                switch (events.Current)
                {
                    case TokenGenerated { Final: { } result } last:
                        await WriteFinal(ctx, s, v, last, result, started);
                        return;
                    case TokenGenerated t:
                        await WriteEvent(response, new StreamResponseDto(t.Index + 1, Token(t.Token), TopList(t.TopTokens), null, null), ctx.RequestAborted);
                        break;
                    case GenerationFailed f:
                        s.Metrics.RequestFailure.Increment(labelValue: "generation");
                        await WriteEvent(response, new ErrorResponseDto(f.Message, "generation"), ctx.RequestAborted);
                        return;
                }
            } while (await events.MoveNextAsync());
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
            s.Metrics.RequestFailure.Increment(labelValue: "cancelled");
        }
        finally
        {
            await events.DisposeAsync();
        }
    }

    private static async Task WriteFinal(HttpContext ctx, ServerState s, ValidGenerateRequest v, TokenGenerated last, GenerationResult r, Stopwatch started)
    {
        Observe(s, r, started);
        s.Metrics.RequestSuccess.Increment();
        string text = v.ReturnFullText ? v.Inputs + r.GeneratedText : r.GeneratedText;
        var details = v.Details ? new StreamDetailsDto(FinishReasonText(r.FinishReason), r.GeneratedTokenCount, r.Seed, v.InputLength) : null;
        await WriteEvent(ctx.Response, new StreamResponseDto(last.Index + 1, Token(last.Token), TopList(last.TopTokens), text, details), ctx.RequestAborted);
    }

    private static async Task WriteEvent<T>(HttpResponse response, T payload, CancellationToken ct)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(payload, TgiJson.Options);
        await response.Body.WriteAsync("data:"u8.ToArray(), ct);
        await response.Body.WriteAsync(bytes, ct);
        await response.Body.WriteAsync("\n\n"u8.ToArray(), ct);
        await response.Body.FlushAsync(ct);
    }

    private static async Task Tokenize(HttpContext ctx, ServerState s)
    {
        GenerateRequestDto? dto;
        try { dto = await JsonSerializer.DeserializeAsync<GenerateRequestDto>(ctx.Request.Body, TgiJson.Options, ctx.RequestAborted); }
        catch (JsonException e)
        {
            await WriteError(ctx, 422, $"Failed to deserialize the JSON body into the target type: {e.Message}", "validation");
            return;
        }
        string inputs = dto?.Inputs ?? "";
        if (inputs.Length == 0)
        {
            await WriteError(ctx, 422, "Input validation error: `inputs` cannot be empty", "validation");
            return;
        }
        var tokens = s.Tokenizer.EncodeToTokens(inputs);
        var list = tokens.Select(t => new SimpleTokenDto(t.Id, t.End > t.Start ? inputs[t.Start..t.End] : s.Tokenizer.TokenText(t.Id), t.Start, t.End)).ToList();
        await ctx.Response.WriteAsJsonAsync(list, TgiJson.Options);
    }

    private static void Observe(ServerState s, GenerationResult r, Stopwatch started)
    {
        var m = s.Metrics;
        m.RequestDuration.Observe(started.Elapsed.TotalSeconds);
        m.QueueDuration.Observe(r.QueueTime.TotalSeconds);
        m.InferenceDuration.Observe(r.InferenceTime.TotalSeconds);
        m.GeneratedTokens.Observe(r.GeneratedTokenCount);
        m.TimeToFirstToken.Observe(r.TimeToFirstToken.TotalSeconds);
        if (r.GeneratedTokenCount > 0) m.TimePerToken.Observe(r.InferenceTime.TotalSeconds / r.GeneratedTokenCount);
    }

    private static void SetTimingHeaders(HttpContext ctx, GenerationResult r, Stopwatch started, TimeSpan validation, int inputLength)
    {
        string Ms(TimeSpan t) => ((long)t.TotalMilliseconds).ToString(CultureInfo.InvariantCulture);
        var h = ctx.Response.Headers;
        var total = started.Elapsed;
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
