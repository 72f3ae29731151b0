using System.Text;
using System.Text.Json;
using Inkwell.Engine.Requests;
using Inkwell.Server.Generation;
using Inkwell.Server.Hosting;
using Inkwell.Server.OpenAI.Tools;
using Microsoft.AspNetCore.Http;

namespace Inkwell.Server.OpenAI;

/// <summary>
/// Turns a run's events into an OpenAI response: one JSON body, or SSE chunks ("data: {...}") ending with
/// "data: [DONE]". The text is the output stage's: special tokens left out, the stop sequence dropped, and while
/// streaming a tail that may still become a stop sequence held back. finish_reason is "length" or "stop", or
/// "tool_calls" when a chat's output became tool calls (<see cref="ToolCallOutput"/>, one per choice).
/// </summary>
internal sealed class ResponseWriter(HttpContext ctx, ServerState s, OpenAIPlan plan, GenerationRun run, bool chat, string idPrefix)
{
    private readonly string _id = idPrefix + Guid.NewGuid().ToString("N");
    private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
    private readonly string _model = plan.AdapterId ?? s.ModelId;
    private readonly Choice[] _choices = Enumerable.Range(0, run.ChoiceCount)
        .Select(_ => new Choice(chat && plan.ToolCalls is { } tools ? new ToolCallOutput(tools, () => ToolCallIds.New(plan.NineCharacterToolCallIds)) : null))
        .ToArray();

    private sealed class Choice(ToolCallOutput? tools)
    {
        public readonly StringBuilder Text = new();
        public readonly ToolCallOutput? Tools = tools;
        public readonly List<TokenLogprobDto> Logprobs = [];
        public int Pending; // logprob entries not yet sent in a chunk
        public GenerationResult? Result;
        public bool RoleSent;
    }

    public async Task RunAsync(CancellationToken ct)
    {
        if (plan.Stream)
        {
            await EventStream.WriteAsync(ctx.Response, StreamAsync(ct), OpenAIJson.Options, ct);
            return;
        }
        await foreach (var (index, e) in run.ReadAllAsync(ct))
        {
            if (e is GenerationFailed f)
            {
                await OpenAIApi.WriteError(ctx, Failed(f));
                return; // disposing the run stops the other choices
            }
            Apply(_choices[index], e);
        }
        if (!Succeeded(ct)) return;
        ctx.Response.StatusCode = 200;
        if (chat) await ctx.Response.WriteAsJsonAsync(ChatBody(), OpenAIJson.Options, ct);
        else await ctx.Response.WriteAsJsonAsync(CompletionBody(), OpenAIJson.Options, ct);
    }

    private async IAsyncEnumerable<object> StreamAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken ct)
    {
        await foreach (var (index, e) in run.ReadAllAsync(ct))
        {
            if (e is GenerationFailed f)
            {
                yield return Failed(f).ToDto();
                yield break; // disposing the run stops the other choices
            }
            if (e is not TokenGenerated t) continue;
            var c = _choices[index];
            Apply(c, t);
            foreach (var chunk in Delta(index, c, t)) yield return chunk;
        }
        if (!Succeeded(ct)) yield break;
        if (plan.IncludeUsage && chat) yield return ChatChunk([], OptionalUsage.Of(Usage()));
        else if (plan.IncludeUsage) yield return CompletionChunk([], OptionalUsage.Of(Usage()));
        yield return "[DONE]";
    }

    private void Apply(Choice c, GenerationEvent e)
    {
        if (e is not TokenGenerated t) return;
        if (plan.Logprobs is not null && !t.Token.Special) c.Logprobs.Add(Logprob(t.Token, t.TopTokens));
        // With tool calls parsed, the text keeps the tool-call tokens the output stage leaves out: the parser reads them.
        c.Text.Append(c.Tools is null ? t.TextDelta : ToolCallOutput.RawPiece(t.TextDelta, t.Token.Special, t.Token.Text));
        if (t.Final is { } final) c.Result = final;
    }

    private OpenAIException Failed(GenerationFailed f)
    {
        // The end of the shutdown grace period is the server's unavailability, not a failed generation.
        return new OpenAIException(run.StoppedByShutdown ? 503 : 500, f.Message, "server_error", code: null);
    }

    private bool Succeeded(CancellationToken ct)
    {
        if (_choices.Any(c => c.Result is null)) throw new OperationCanceledException(ct);
        return true;
    }

    private static string FinishReason(GenerationResult r) => r.FinishReason == Engine.Requests.FinishReason.Length ? "length" : "stop";

    /// <summary>An output that became whole tool calls ends with "tool_calls"; calls cut short keep "length".</summary>
    private static string FinishReason(GenerationResult r, ToolCallOutput? tools) => tools is not null && tools.CallsComplete() ? "tool_calls" : FinishReason(r);

    private UsageDto Usage()
    {
        int prompt = run.Inputs.Sum(p => p.InputLength);
        int completion = _choices.Sum(c => c.Result?.GeneratedTokenCount ?? 0);
        return new UsageDto(prompt, completion, prompt + completion);
    }

    private string EchoPrefix(int index) => plan.Echo ? plan.Prompts[run.Origin(index).Input].Text : "";

    // ---- unary bodies ----

    private ChatCompletionDto ChatBody() => new(_id, "chat.completion", _created, _model, null,
        _choices.Select((c, i) =>
        {
            var (content, calls) = c.Tools is { } tools ? tools.Complete(c.Text.ToString()) : (c.Text.ToString(), null);
            return new ChatChoiceDto(i, new ChatResponseMessageDto("assistant", content, null, calls),
                plan.Logprobs is null ? null : new ChatLogprobsDto(c.Logprobs, null), FinishReason(c.Result!, c.Tools));
        }).ToList(),
        Usage());

    private CompletionDto CompletionBody() => new(_id, "text_completion", _created, _model, null,
        _choices.Select((c, i) => new CompletionChoiceDto(EchoPrefix(i) + c.Text, i,
            plan.Logprobs is null ? null : CompletionLogprobs(c.Logprobs, 0), FinishReason(c.Result!))).ToList(),
        OptionalUsage.Of(Usage()));

    // ---- streaming ----

    /// <summary>The chunks one token's event makes: the role first (chat), then the text (or tool calls) and logprobs, then the finish reason.</summary>
    private List<object> Delta(int index, Choice c, TokenGenerated t)
    {
        string delta = t.TextDelta;
        var final = t.Final;
        var chunks = new List<object>(3);
        var logprobs = c.Logprobs.Count > c.Pending ? c.Logprobs.GetRange(c.Pending, c.Logprobs.Count - c.Pending) : [];
        c.Pending = c.Logprobs.Count;
        var usage = plan.IncludeUsage ? OptionalUsage.Of(null) : default;
        if (chat)
        {
            if (!c.RoleSent)
            {
                c.RoleSent = true;
                chunks.Add(ChatChunk([new ChatChunkChoiceDto(index, new ChatDeltaDto("assistant", ""), null, null)], usage));
            }
            IReadOnlyList<ToolCallDeltaDto>? calls = null;
            if (c.Tools is { } tools) (delta, calls) = tools.Feed(ToolCallOutput.RawPiece(t.TextDelta, t.Token.Special, t.Token.Text));
            if (delta.Length > 0 || calls is not null || logprobs.Count > 0)
            {
                var lp = plan.Logprobs is null ? null : new ChatLogprobsDto(logprobs, null);
                chunks.Add(ChatChunk([new ChatChunkChoiceDto(index, new ChatDeltaDto(null, calls is null ? delta : null, calls), lp, null)], usage));
            }
            if (final is null) return chunks;
            if (c.Tools is { } finished)
            {
                // What "auto" held back: the rest of the content, then the calls, each whole.
                var (rest, finalCalls) = finished.Finish();
                if (rest.Length > 0) chunks.Add(ChatChunk([new ChatChunkChoiceDto(index, new ChatDeltaDto(null, rest), null, null)], usage));
                if (finalCalls.Count > 0) chunks.Add(ChatChunk([new ChatChunkChoiceDto(index, new ChatDeltaDto(null, null, finalCalls), null, null)], usage));
            }
            chunks.Add(ChatChunk([new ChatChunkChoiceDto(index, new ChatDeltaDto(null, null), null, FinishReason(final, c.Tools))], usage));
        }
        else
        {
            if (!c.RoleSent && plan.Echo) delta = EchoPrefix(index) + delta;
            c.RoleSent = true;
            if (delta.Length > 0 || logprobs.Count > 0 || final is not null)
            {
                var lp = plan.Logprobs is null ? null : CompletionLogprobs(logprobs, c.Text.Length - delta.Length);
                chunks.Add(CompletionChunk([new CompletionChoiceDto(delta, index, lp, final is null ? null : FinishReason(final))], usage));
            }
        }
        return chunks;
    }

    private ChatCompletionChunkDto ChatChunk(IReadOnlyList<ChatChunkChoiceDto> choices, OptionalUsage usage) =>
        new(_id, "chat.completion.chunk", _created, _model, null, choices, usage);

    private CompletionDto CompletionChunk(IReadOnlyList<CompletionChoiceDto> choices, OptionalUsage usage) =>
        new(_id, "text_completion", _created, _model, null, choices, usage);

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
        return (s.Tokenizer.TokenString(id), bytes);
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
