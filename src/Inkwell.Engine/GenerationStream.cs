using System.Runtime.CompilerServices;
using Inkwell.Engine.Decoding;
using Inkwell.Engine.Requests;
using Inkwell.Models.Tokenizers;

namespace Inkwell.Engine;

/// <summary>
/// The output stage of one engine request, run by whoever reads it (never the engine thread): turns the engine's
/// token ids into text (incremental detokenization), matches stop sequences (keeping or dropping the match as the
/// request says), holds back streamed text that may still become a stop sequence, attaches top tokens, ranks and
/// prompt log-probabilities, and builds the result. A stop match, or leaving the stream early, takes the request
/// out of the engine at its next step. Read it once.
/// </summary>
public sealed class GenerationStream : IAsyncEnumerable<GenerationEvent>
{
    private readonly EngineRequest _request;
    private readonly Tokenizer _tokenizer;
    private readonly CancellationTokenSource _abort;

    internal GenerationStream(EngineRequest request, Tokenizer tokenizer, CancellationTokenSource abort)
    {
        _request = request;
        _tokenizer = tokenizer;
        _abort = abort;
    }

    public IAsyncEnumerator<GenerationEvent> GetAsyncEnumerator(CancellationToken cancellationToken = default) =>
        ReadAllAsync(cancellationToken).GetAsyncEnumerator(cancellationToken);

    public async IAsyncEnumerable<GenerationEvent> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var r = _request;
        var req = r.Request;
        var reader = r.Output.Reader;
        // The decoder starts after the last prompt token, so a first piece right after BOS loses SentencePiece's space.
        int previous = req.PromptTokens.Count > 0 ? req.PromptTokens[^1] : 0;
        var text = new TextAccumulator(_tokenizer.CreateIncrementalDecoder(skipSpecialTokens: true, previousId: previous),
            req.Stopping.StopSequences, req.Stopping.IncludeStopSequence);
        var tokens = new List<TokenInfo>();
        List<IReadOnlyList<TokenInfo>>? topTokens = req.TopNTokens > 0 ? [] : null;
        try
        {
            while (await reader.WaitToReadAsync(cancellationToken))
            {
                while (reader.TryRead(out var step))
                {
                    if (step.Finish == FinishReason.Error)
                    {
                        yield return new GenerationFailed(r.FailureMessage ?? "generation failed");
                        yield break;
                    }
                    int index = tokens.Count;
                    bool special = _tokenizer.IsSpecial(step.Token);
                    string piece = special ? _tokenizer.TokenText(step.Token) : text.Append(step.Token);
                    var info = new TokenInfo(step.Token, piece, step.LogProb, special, r.Pipeline.Ranks?.At(index) ?? 0);
                    tokens.Add(info);
                    var top = r.Pipeline.TopTokens is { } observer ? TopTokens(observer.At(index)) : null;
                    topTokens?.Add(top!);
                    var finish = text.MatchedStop is not null ? FinishReason.StopSequence : step.Finish;
                    if (finish is not { } reason)
                    {
                        yield return new TokenGenerated(info, top, index, text.TakeDelta(final: false));
                        continue;
                    }
                    // A stop sequence is found here, after the engine already moved on: take the request out.
                    if (reason == FinishReason.StopSequence) await _abort.CancelAsync();
                    var result = Result(reason, text, tokens, topTokens);
                    yield return new TokenGenerated(info, top, index, text.TakeDelta(final: true), result);
                    yield return new GenerationFinished(result);
                    yield break;
                }
            }
            // The engine completes the channel without a final token only when the request was cancelled.
            cancellationToken.ThrowIfCancellationRequested();
            r.Cancellation.ThrowIfCancellationRequested();
            yield return new GenerationFailed("Incomplete generation");
        }
        finally
        {
            // Ends the engine's work when the reader stops before the last token; harmless after it.
            await _abort.CancelAsync();
            _abort.Dispose();
        }
    }

    private List<TokenInfo> TopTokens(ReadOnlySpan<Sampling.TokenLogprob> top)
    {
        var list = new List<TokenInfo>(top.Length);
        foreach (var t in top) list.Add(new TokenInfo(t.Id, _tokenizer.TokenString(t.Id), t.LogProb, _tokenizer.IsSpecial(t.Id)));
        return list;
    }

    private GenerationResult Result(FinishReason reason, TextAccumulator text, List<TokenInfo> tokens, List<IReadOnlyList<TokenInfo>>? topTokens)
    {
        var r = _request;
        return new GenerationResult
        {
            GeneratedText = text.Text,
            FinishReason = reason,
            Tokens = tokens,
            TopTokens = topTokens,
            Prefill = Prefill(),
            StopSequence = text.MatchedStop,
            Seed = r.Request.Sampling.IsSampling ? r.Request.Sampling.Seed : null,
            PromptTokenCount = r.PromptLength - r.PrefixTokenCount,
            QueueTime = r.FirstScheduledAt ?? r.Clock.Elapsed,
            InferenceTime = r.Clock.Elapsed - (r.FirstScheduledAt ?? r.Clock.Elapsed),
            TimeToFirstToken = r.FirstTokenAt ?? r.Clock.Elapsed,
        };
    }

    /// <summary>Each prompt token with its log-probability (NaN for the first), when decoder_input_details asked for them.</summary>
    private List<TokenInfo>? Prefill()
    {
        if (_request.PrefillLogProbs is not { } logprobs) return null;
        var prompt = _request.Request.PromptTokens;
        var list = new List<TokenInfo>(prompt.Count);
        for (int i = 0; i < prompt.Count; i++)
            list.Add(new TokenInfo(prompt[i], _tokenizer.TokenString(prompt[i]), i < logprobs.Length ? logprobs[i] : float.NaN, _tokenizer.IsSpecial(prompt[i])));
        return list;
    }
}
