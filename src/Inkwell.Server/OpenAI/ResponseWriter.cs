using System.Text;
using System.Text.Json;
using Inkwell.Engine.Requests;
using Inkwell.Server.Hosting;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.OpenAI;

/// <summary>
/// Turns merged engine events into an OpenAI response: one JSON body, or SSE chunks ("data: {...}") ending with
/// "data: [DONE]". Text leaves out special tokens and the stop sequence; finish_reason is "length" or "stop".
/// </summary>
internal sealed class ResponseWriter(HttpContext ctx, ServerState s, OpenAIPlan plan, bool chat, string idPrefix)
{
    private readonly string _id = idPrefix + Guid.NewGuid().ToString("N");
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private readonly string _model = s.ModelId;
    private Choice[] _choices = [];

    private sealed class Choice(IReadOnlyList<string> stops)
    {
        public readonly StopTrimmer Text = new(stops);
        public readonly List<TokenLogprobDto> Logprobs = [];
        public int Pending; // logprob entries not yet sent in a chunk
        public GenerationResult? Result;
        public bool RoleSent;
    }

    public async Task RunAsync(ChoiceRunner runner, CancellationToken ct)
    {
        int promptsN = plan.Prompts.Count * plan.N;
        _choices = Enumerable.Range(0, promptsN).Select(_ => new Choice(plan.Stop)).ToArray();
        if (plan.Stream) StartStream();
        await foreach (var (index, e) in runner.Events(ct))
        {
            var c = _choices[index];
            switch (e)
            {
                case TokenGenerated t:
                    string piece = t.Token.Special ? "" : t.Token.Text;
                    if (plan.Logprobs is not null && !t.Token.Special) c.Logprobs.Add(Logprob(t.Token, t.TopTokens));
                    string delta = c.Text.Push(piece);
                    if (t.Final is { } final) delta += FinishChoice(c, final);
                    if (plan.Stream) await WriteDelta(index, c, delta, t.Final, ct);
                    break;
                case GenerationFinished f when c.Result is null:
                    string rest = FinishChoice(c, f.Result);
                    if (plan.Stream) await WriteDelta(index, c, rest, f.Result, ct);
                    break;
                case GenerationFailed f:
                    s.Metrics.RequestFailure.Increment(labelValue: "generation");
                    var error = new OpenAIException(500, f.Message, "server_error", code: null);
                    if (plan.Stream) await WriteEvent(error.ToDto(), ct);
                    else await OpenAIApi.WriteError(ctx, error);
                    return; // disposing the runner stops the other choices
            }
        }
        if (_choices.Any(c => c.Result is null)) throw new OperationCanceledException(ct);
        s.Metrics.RequestSuccess.Increment();
        foreach (var c in _choices) s.Metrics.GeneratedTokens.Observe(c.Result!.GeneratedTokenCount);
        if (plan.Stream)
        {
            if (plan.IncludeUsage && chat) await WriteEvent(ChatChunk([], OptionalUsage.Of(Usage())), ct);
            else if (plan.IncludeUsage) await WriteEvent(CompletionChunk([], OptionalUsage.Of(Usage())), ct);
            await ctx.Response.Body.WriteAsync("data: [DONE]\n\n"u8.ToArray(), ct);
            await ctx.Response.Body.FlushAsync(ct);
        }
        else
        {
            ctx.Response.StatusCode = 200;
            if (chat) await ctx.Response.WriteAsJsonAsync(ChatBody(), OpenAIJson.Options, ct);
            else await ctx.Response.WriteAsJsonAsync(CompletionBody(), OpenAIJson.Options, ct);
        }
    }

    private string FinishChoice(Choice c, GenerationResult result)
    {
        c.Result = result;
        return c.Text.Finish(result.GeneratedText, result.StopSequence);
    }

    private static string FinishReason(GenerationResult r) => r.FinishReason == Engine.Requests.FinishReason.Length ? "length" : "stop";

    private UsageDto Usage()
    {
        int prompt = plan.Prompts.Sum(p => p.Tokens.Count);
        int completion = _choices.Sum(c => c.Result?.GeneratedTokenCount ?? 0);
        return new UsageDto(prompt, completion, prompt + completion);
    }

    private string EchoPrefix(int index) => plan.Echo ? plan.Prompts[index / plan.N].Text : "";

    // ---- unary bodies ----

    private ChatCompletionDto ChatBody() => new(_id, "chat.completion", _created, _model, null,
        _choices.Select((c, i) => new ChatChoiceDto(i, new ChatResponseMessageDto("assistant", c.Text.Emitted, null),
            plan.Logprobs is null ? null : new ChatLogprobsDto(c.Logprobs, null), FinishReason(c.Result!))).ToList(),
        Usage());

    private CompletionDto CompletionBody() => new(_id, "text_completion", _created, _model, null,
        _choices.Select((c, i) => new CompletionChoiceDto(EchoPrefix(i) + c.Text.Emitted, i,
            plan.Logprobs is null ? null : CompletionLogprobs(c.Logprobs, 0), FinishReason(c.Result!))).ToList(),
        OptionalUsage.Of(Usage()));

    // ---- streaming ----

    private void StartStream()
    {
        var r = ctx.Response;
        r.StatusCode = 200;
        r.ContentType = "text/event-stream";
        r.Headers.CacheControl = "no-cache";
        r.Headers["x-accel-buffering"] = "no";
    }

    private async Task WriteDelta(int index, Choice c, string delta, GenerationResult? final, CancellationToken ct)
    {
        var logprobs = c.Logprobs.Count > c.Pending ? c.Logprobs.GetRange(c.Pending, c.Logprobs.Count - c.Pending) : [];
        c.Pending = c.Logprobs.Count;
        var usage = plan.IncludeUsage ? OptionalUsage.Of(null) : default;
        if (chat)
        {
            if (!c.RoleSent)
            {
                c.RoleSent = true;
                await WriteEvent(ChatChunk([new ChatChunkChoiceDto(index, new ChatDeltaDto("assistant", ""), null, null)], usage), ct);
            }
            if (delta.Length > 0 || logprobs.Count > 0)
            {
                var lp = plan.Logprobs is null ? null : new ChatLogprobsDto(logprobs, null);
                await WriteEvent(ChatChunk([new ChatChunkChoiceDto(index, new ChatDeltaDto(null, delta), lp, null)], usage), ct);
            }
            if (final is not null)
                await WriteEvent(ChatChunk([new ChatChunkChoiceDto(index, new ChatDeltaDto(null, null), null, FinishReason(final))], usage), ct);
        }
        else
        {
            if (!c.RoleSent && plan.Echo) delta = EchoPrefix(index) + delta;
            c.RoleSent = true;
            if (delta.Length > 0 || logprobs.Count > 0 || final is not null)
            {
                var lp = plan.Logprobs is null ? null : CompletionLogprobs(logprobs, c.Text.Emitted.Length - delta.Length);
                await WriteEvent(CompletionChunk([new CompletionChoiceDto(delta, index, lp, final is null ? null : FinishReason(final))], usage), ct);
            }
        }
    }

    private ChatCompletionChunkDto ChatChunk(IReadOnlyList<ChatChunkChoiceDto> choices, OptionalUsage usage) =>
        new(_id, "chat.completion.chunk", _created, _model, null, choices, usage);

    private CompletionDto CompletionChunk(IReadOnlyList<CompletionChoiceDto> choices, OptionalUsage usage) =>
        new(_id, "text_completion", _created, _model, null, choices, usage);

    private async Task WriteEvent<T>(T payload, CancellationToken ct)
    {
        var body = ctx.Response.Body;
        await body.WriteAsync("data: "u8.ToArray(), ct);
        await body.WriteAsync(JsonSerializer.SerializeToUtf8Bytes(payload, OpenAIJson.Options), ct);
        await body.WriteAsync("\n\n"u8.ToArray(), ct);
        await body.FlushAsync(ct);
    }

    // ---- logprobs ----

    private TokenLogprobDto Logprob(TokenInfo token, IReadOnlyList<TokenInfo>? top)
    {
        var (text, bytes) = TokenString(token.Id);
        var alternatives = top?.Select(t =>
        {
            var (tt, tb) = TokenString(t.Id);
            return new TopLogprobDto(tt, Finite(t.LogProb), tb);
        }).ToList() ?? [];
        return new TokenLogprobDto(text, Finite(token.LogProb), bytes, alternatives);
    }

    /// <summary>A token as OpenAI shows it: the text it adds (its bytes may be part of a character; "bytes" has them exactly).</summary>
    private (string Text, int[] Bytes) TokenString(int id)
    {
        var raw = s.Tokenizer.TokenBytes(id);
        var bytes = new int[raw.Length];
        for (int i = 0; i < raw.Length; i++) bytes[i] = raw[i];
        return (Encoding.UTF8.GetString(raw), bytes);
    }

    /// <summary>JSON has no -infinity; OpenAI reports a vanishing probability as -9999.0.</summary>
    private static float Finite(float logprob) => float.IsFinite(logprob) ? logprob : -9999f;

    private static CompletionLogprobsDto CompletionLogprobs(IReadOnlyList<TokenLogprobDto> tokens, int startOffset)
    {
        var offsets = new List<int>(tokens.Count);
        int offset = startOffset;
        foreach (var t in tokens)
        {
            offsets.Add(offset);
            offset += t.Token.Length;
        }
        return new CompletionLogprobsDto(
            tokens.Select(t => t.Token).ToList(),
            tokens.Select(t => (float?)t.Logprob).ToList(),
            tokens.Select(t =>
            {
                var map = new Dictionary<string, float>();
                foreach (var alt in t.TopLogprobs) map.TryAdd(alt.Token, alt.Logprob);
                return map;
            }).ToList(),
            offsets);
    }
}
