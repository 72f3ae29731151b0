using System.Runtime.CompilerServices;
using System.Threading.Channels;
using Inkwell.Engine.Requests;
using Inkwell.Models.Tokenizers;
using Grpc.Core;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Hosting;
using HostingGenerationService = Inkwell.Server.Hosting.GenerationService;
using Inkwell.Server.PromptTuning;
using EngineRequest = Inkwell.Engine.Requests.GenerationRequest;
using EngineSampling = Inkwell.Engine.Sampling.SamplingParameters;
using EngineTokenInfo = Inkwell.Engine.Requests.TokenInfo;
using GrpcTokenInfo = Inkwell.Server.Grpc.Fmaas.TokenInfo;

namespace Inkwell.Server.Grpc;

/// <summary>
/// The TGIS service over the engine: tokenization with truncate_input_tokens, TGIS's length rules, soft prompts,
/// the shared permits (none left = RESOURCE_EXHAUSTED "Model is overloaded"), and the engine's results in TGIS's
/// shapes. A cancelled token (client gone, deadline) takes the request out of the engine at its next step.
/// </summary>
public sealed class EngineGenerationBackend : IBatchGenerationBackend
{
    private readonly HostingGenerationService _service;
    private readonly Tokenizer _tokenizer;
    private readonly PromptPrefixStore _prefixes;

    public EngineGenerationBackend(HostingGenerationService service, Tokenizer tokenizer, PromptPrefixStore prefixes, int maxSequenceLength, int maxNewTokens)
    {
        _service = service;
        _tokenizer = tokenizer;
        _prefixes = prefixes;
        ModelInfo = new GenerationModelInfo(ModelInfoResponse.Types.ModelKind.DecoderOnly, maxSequenceLength, maxNewTokens);
    }

    public GenerationModelInfo ModelInfo { get; }

    public async Task<GenerationResponse> GenerateAsync(ValidatedGenerationRequest request, CancellationToken cancellationToken) =>
        (await GenerateBatchAsync([request], cancellationToken))[0];

    public async Task<GenerationResponse[]> GenerateBatchAsync(IReadOnlyList<ValidatedGenerationRequest> requests, CancellationToken cancellationToken)
    {
        // As TGIS: permits for the whole batch first, then validation of every input, then all inputs into the
        // engine's queue together (so they share steps); one failure fails the batch.
        using var permits = AcquirePermits(requests.Count);
        var prepared = requests.Select(Prepare).ToArray();
        using var batchSource = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ChannelReader<GenerationEvent>[] readers;
        try
        {
            readers = prepared.Select(p => Submit(p, batchSource.Token)).ToArray();
        }
        catch
        {
            // Inputs already queued must not run on for nobody.
            await batchSource.CancelAsync();
            throw;
        }
        var runs = prepared.Select((p, i) => RunToEndAsync(p, readers[i], batchSource)).ToArray();
        return await Task.WhenAll(runs);
    }

    public async IAsyncEnumerable<GenerationResponse> GenerateStreamAsync(ValidatedGenerationRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var permits = AcquirePermits(1);
        var p = Prepare(request);
        var parameters = request.Parameters;
        // Leaving the loop early (client gone) cancels this token, which takes the request out of the engine.
        using var source = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var reader = Submit(p, source.Token);

        // TGIS's stream: a first message with the input token count (input text and seed when asked), a message with
        // the input tokens if asked, then one per token that produced text, the last with stop reason and seed.
        yield return new GenerationResponse
        {
            InputTokenCount = (uint)p.InputTokens.Length,
            Text = parameters.Response.InputText ? request.Text : "",
            Seed = parameters.Seed ?? 0,
        };
        bool sentInput = !parameters.Response.InputTokens;
        bool wantPrefill = parameters.Response.InputTokens && parameters.Response.TokenLogprobs;
        string stopTail = "";

        try
        {
            while (await reader.WaitToReadAsync(source.Token))
            {
                while (reader.TryRead(out var e))
                {
                    if (e is GenerationFailed failed) throw Failed(failed.Message);
                    if (e is not TokenGenerated t) continue;
                    // Prompt log-probabilities only reach us with the result, so with them the input tokens come just
                    // before the last message (TGIS sends them before the first token); without, the ids suffice.
                    if (!sentInput && (!wantPrefill || t.Final is not null))
                    {
                        var input = new GenerationResponse { InputTokenCount = (uint)p.InputTokens.Length };
                        input.InputTokens.AddRange(InputTokens(p, t.Final?.Prefill));
                        yield return input;
                        sentInput = true;
                    }

                    string text = t.Token.Special ? "" : t.Token.Text;
                    var message = new GenerationResponse { GeneratedTokenCount = (uint)(t.Index + 1) };
                    if (parameters.Response.GeneratedTokens) message.Tokens.Add(TokenDetail(p, t.Token, t.TopTokens, t.Index));
                    if (t.Final is { } final)
                    {
                        var reason = StopReasonOf(final.FinishReason, p);
                        // The engine keeps the stop sequence; without include_stop_sequence it leaves the text, and
                        // it may span earlier pieces, so the final text is the whole result minus what was sent.
                        string full = Text(final, parameters);
                        message.Text = full.Length >= stopTail.Length && full.StartsWith(stopTail, StringComparison.Ordinal) ? full[stopTail.Length..] : "";
                        message.StopReason = reason;
                        if (reason == StopReason.StopSequence) message.StopSequence = final.StopSequence ?? "";
                        message.Seed = parameters.Seed ?? 0;
                        yield return message;
                        yield break;
                    }
                    message.Text = text;
                    stopTail += text;
                    // As TGIS: no message for a token that added neither text nor requested detail.
                    if (message.Text.Length == 0 && message.Tokens.Count == 0) continue;
                    yield return message;
                }
            }
        }
        finally
        {
            // Ends the engine's work when the client stops reading before the last token.
            await source.CancelAsync();
        }
        cancellationToken.ThrowIfCancellationRequested();
        throw Failed("Incomplete generation");
    }

    public Task<TokenizeResponse> TokenizeAsync(string text, TokenizeOptions options, CancellationToken cancellationToken)
    {
        // TGIS slices the full encoding: the last truncate_input_tokens tokens, offsets into the original text.
        var tokens = _tokenizer.EncodeToTokens(text);
        int from = options.TruncateInputTokens > 0 && options.TruncateInputTokens < tokens.Count ? tokens.Count - options.TruncateInputTokens : 0;
        var response = new TokenizeResponse { TokenCount = (uint)(tokens.Count - from) };
        for (int i = from; i < tokens.Count; i++)
        {
            if (options.ReturnTokens) response.Tokens.Add(_tokenizer.TokenText(tokens[i].Id));
            if (options.ReturnOffsets) response.Offsets.Add(new TokenizeResponse.Types.Offset { Start = (uint)tokens[i].Start, End = (uint)tokens[i].End });
        }
        return Task.FromResult(response);
    }

    private IDisposable AcquirePermits(int count)
    {
        try
        {
            return _service.AcquirePermits(count);
        }
        catch (OverloadedException e)
        {
            throw new RpcException(new Status(StatusCode.ResourceExhausted, e.Message));
        }
    }

    /// <summary>A request made ready for the engine.</summary>
    private sealed record Prepared(ValidatedGenerationRequest Request, int[] InputTokens, PromptPrefix? Prefix, int MaxNewTokens,
        bool LimitedBySequenceLength, TokenObserver? Observer);

    private Prepared Prepare(ValidatedGenerationRequest request)
    {
        var parameters = request.Parameters;
        PromptPrefix? prefix = null;
        if (request.PrefixId is { } id)
        {
            try
            {
                prefix = _prefixes.Get(id);
            }
            catch (PromptPrefixException e)
            {
                throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
            }
        }

        var ids = _tokenizer.EncodeToIds(request.Text);
        int keep = parameters.TruncateInputTokens;
        int[] input;
        if (keep > 0 && keep < ids.Count)
        {
            // Left truncation as a Hugging Face tokenizer does it: BOS, when added, stays and counts toward the limit.
            bool bos = _tokenizer.AddBos && ids.Count > 0 && ids[0] == _tokenizer.BosId;
            input = bos && keep > 1
                ? [ids[0], .. ids.Skip(ids.Count - (keep - 1))]
                : [.. ids.Skip(ids.Count - keep)];
        }
        else
        {
            input = [.. ids];
        }

        int maxNew = GenerationParameterValidator.LimitNewTokens(input.Length, prefix?.VirtualTokens ?? 0, parameters, ModelInfo.MaxSequenceLength,
            out bool limited);
        var response = parameters.Response;
        bool ranks = response.GeneratedTokens && response.TokenRanks;
        var observer = ranks || parameters.LengthPenalty is not null
            ? new TokenObserver(parameters.LengthPenalty, _tokenizer.EndOfGenerationIds, _service.Engine.Model.Config.VocabSize, maxNew, ranks)
            : null;
        return new Prepared(request, input, prefix, maxNew, limited, observer);
    }

    private ChannelReader<GenerationEvent> Submit(Prepared p, CancellationToken cancellationToken)
    {
        var parameters = p.Request.Parameters;
        var sampling = parameters.IsGreedy
            ? new EngineSampling { RepetitionPenalty = parameters.RepetitionPenalty }
            : new EngineSampling
            {
                DoSample = true,
                Temperature = parameters.Temperature,
                TopK = parameters.TopK,
                TopP = parameters.TopP,
                TypicalP = parameters.TypicalP,
                RepetitionPenalty = parameters.RepetitionPenalty,
                Seed = parameters.Seed ?? 0,
            };
        var request = new EngineRequest
        {
            PromptTokens = p.InputTokens,
            Sampling = sampling,
            Stopping = new StoppingParameters
            {
                MaxNewTokens = p.MaxNewTokens,
                MinNewTokens = parameters.MinNewTokens,
                StopSequences = parameters.StopSequences,
                TimeLimit = parameters.TimeLimit ?? TimeSpan.Zero,
            },
            TopNTokens = parameters.Response.GeneratedTokens ? parameters.Response.TopNTokens : 0,
            PrefillLogProbs = parameters.Response.InputTokens && parameters.Response.TokenLogprobs,
            PrefixEmbeddings = p.Prefix?.Embeddings,
            PrefixSalt = p.Prefix?.Salt ?? 0,
            Constraint = p.Observer,
        };
        try
        {
            return _service.Engine.Submit(request, cancellationToken);
        }
        catch (ArgumentException e)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, e.Message));
        }
        catch (InvalidOperationException e)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, e.Message));
        }
    }

    private async Task<GenerationResponse> RunToEndAsync(Prepared p, ChannelReader<GenerationEvent> reader, CancellationTokenSource batchSource)
    {
        try
        {
            while (await reader.WaitToReadAsync(batchSource.Token))
            {
                while (reader.TryRead(out var e))
                {
                    switch (e)
                    {
                        case GenerationFinished f: return Response(p, f.Result);
                        case GenerationFailed f: throw Failed(f.Message);
                    }
                }
            }
            batchSource.Token.ThrowIfCancellationRequested();
            throw Failed("Incomplete generation");
        }
        catch
        {
            // One failed input fails the batch; stop the others' work.
            await batchSource.CancelAsync();
            throw;
        }
    }

    private GenerationResponse Response(Prepared p, GenerationResult result)
    {
        var parameters = p.Request.Parameters;
        var reason = StopReasonOf(result.FinishReason, p);
        var response = new GenerationResponse
        {
            InputTokenCount = (uint)p.InputTokens.Length,
            GeneratedTokenCount = (uint)result.GeneratedTokenCount,
            Text = (parameters.Response.InputText ? p.Request.Text : "") + Text(result, parameters),
            StopReason = reason,
            StopSequence = reason == StopReason.StopSequence ? result.StopSequence ?? "" : "",
            Seed = parameters.Seed ?? 0,
        };
        if (parameters.Response.GeneratedTokens)
        {
            for (int i = 0; i < result.Tokens.Count; i++)
            {
                response.Tokens.Add(TokenDetail(p, result.Tokens[i], result.TopTokens is { } top && i < top.Count ? top[i] : null, i));
            }
        }
        if (parameters.Response.InputTokens) response.InputTokens.AddRange(InputTokens(p, result.Prefill));
        return response;
    }

    /// <summary>The generated text, without the stop sequence unless include_stop_sequence.</summary>
    private static string Text(GenerationResult result, ValidatedGenerationParameters parameters)
    {
        string text = result.GeneratedText;
        if (!parameters.IncludeStopSequence && result.FinishReason == FinishReason.StopSequence && result.StopSequence is { } stop
            && text.EndsWith(stop, StringComparison.Ordinal))
        {
            text = text[..^stop.Length];
        }
        return text;
    }

    private GrpcTokenInfo TokenDetail(Prepared p, EngineTokenInfo token, IReadOnlyList<EngineTokenInfo>? top, int index)
    {
        var response = p.Request.Parameters.Response;
        var info = new GrpcTokenInfo { Text = _tokenizer.TokenText(token.Id) };
        if (response.TokenLogprobs) info.Logprob = token.LogProb;
        if (response.TokenRanks) info.Rank = (uint)(p.Observer?.RankAt(index) ?? 0);
        if (response.TopNTokens > 0 && top is not null)
        {
            foreach (var t in top) info.TopTokens.Add(new GrpcTokenInfo.Types.TopToken { Text = _tokenizer.TokenText(t.Id), Logprob = t.LogProb });
        }
        return info;
    }

    private IEnumerable<GrpcTokenInfo> InputTokens(Prepared p, IReadOnlyList<EngineTokenInfo>? prefill)
    {
        bool logprobs = p.Request.Parameters.Response.TokenLogprobs;
        for (int i = 0; i < p.InputTokens.Length; i++)
        {
            var info = new GrpcTokenInfo { Text = _tokenizer.TokenText(p.InputTokens[i]) };
            // The first input token has no log-probability (nothing precedes it): NaN, as TGIS reports it.
            if (logprobs) info.Logprob = prefill is not null && i < prefill.Count ? prefill[i].LogProb : float.NaN;
            yield return info;
        }
    }

    private static StopReason StopReasonOf(FinishReason reason, Prepared p) => reason switch
    {
        FinishReason.Length => p.LimitedBySequenceLength ? StopReason.TokenLimit : StopReason.MaxTokens,
        FinishReason.EosToken => StopReason.EosToken,
        FinishReason.StopSequence => StopReason.StopSequence,
        FinishReason.TimeLimit => StopReason.TimeLimit,
        FinishReason.Cancelled => StopReason.Cancelled,
        _ => StopReason.Error,
    };

    // TGIS turns a generation error into a status from a non-gRPC error: UNKNOWN with this prefix.
    private static RpcException Failed(string message) => new(new Status(StatusCode.Unknown, "Request failed during generation: " + message));
}
