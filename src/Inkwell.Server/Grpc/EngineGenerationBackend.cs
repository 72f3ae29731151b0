using System.Diagnostics;
using System.Runtime.CompilerServices;
using Inkwell.Engine.Requests;
using Grpc.Core;
using Inkwell.Server.Generation;
using Inkwell.Server.Grpc.Fmaas;
using Inkwell.Server.Metrics;
using Inkwell.Server.Telemetry;
using EngineSampling = Inkwell.Engine.Sampling.SamplingParameters;
using EngineTokenInfo = Inkwell.Engine.Requests.TokenInfo;
using GrpcTokenInfo = Inkwell.Server.Grpc.Fmaas.TokenInfo;

namespace Inkwell.Server.Grpc;

/// <summary>
/// The TGIS adapter over the <see cref="Generation.GenerationService"/>: maps TGIS's validated parameters to the service's input
/// (TGIS's length rule: an overflowing max_new_tokens is lowered, ending with TOKEN_LIMIT) and the service's events
/// and errors to TGIS's messages and statuses. A cancelled token (client gone, deadline) takes the request out of
/// the engine at its next step.
/// </summary>
public sealed class EngineGenerationBackend : IBatchGenerationBackend
{
    private readonly Generation.GenerationService _service;

    public EngineGenerationBackend(Generation.GenerationService service, int maxNewTokens)
    {
        _service = service;
        ModelInfo = new GenerationModelInfo(ModelInfoResponse.Types.ModelKind.DecoderOnly, service.Limits.MaxTotalTokens, maxNewTokens);
    }

    public GenerationModelInfo ModelInfo { get; }

    public async Task<GenerationResponse> GenerateAsync(ValidatedGenerationRequest request, CancellationToken cancellationToken) =>
        (await GenerateBatchAsync([request], cancellationToken))[0];

    public async Task<GenerationResponse[]> GenerateBatchAsync(IReadOnlyList<ValidatedGenerationRequest> requests, CancellationToken cancellationToken)
    {
        // As TGIS: permits for the whole batch first, then every input prepared, then all queued together (so they
        // share steps); one failure fails the batch.
        using var telemetry = RequestTelemetry.Begin(_service.Metrics, "tgis", requests.Count > 1 ? RequestKind.Batch : RequestKind.Single,
            requests.Count, Stopwatch.GetTimestamp());
        await using var run = await StartAsync(requests.Select(Input).ToList(), telemetry, cancellationToken);
        GenerationResult[] results;
        try
        {
            results = await run.ResultsAsync(cancellationToken);
        }
        catch (GenerationException e)
        {
            telemetry.Failed(e);
            throw ToStatus(e);
        }
        return [.. results.Select((r, i) => Response(requests[i], run.Inputs[i], r))];
    }

    public async IAsyncEnumerable<GenerationResponse> GenerateStreamAsync(ValidatedGenerationRequest request,
        [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var telemetry = RequestTelemetry.Begin(_service.Metrics, "tgis", RequestKind.Stream, inputs: 1, Stopwatch.GetTimestamp());
        await using var run = await StartAsync([Input(request)], telemetry, cancellationToken);
        var prepared = run.Inputs[0];
        var parameters = request.Parameters;
        ulong seed = Seed(parameters, prepared);

        // TGIS's stream: a first message with the input token count (input text and seed when asked), a message with
        // the input tokens if asked, then one per token that produced text, the last with stop reason and seed.
        yield return new GenerationResponse
        {
            InputTokenCount = (uint)prepared.InputLength,
            Text = parameters.Response.InputText ? request.Text : "",
            Seed = seed,
        };
        bool sentInput = !parameters.Response.InputTokens;
        bool wantPrefill = parameters.Response.InputTokens && parameters.Response.TokenLogprobs;
        await foreach (var (_, e) in run.ReadAllAsync(cancellationToken))
        {
            if (e is GenerationFailed failed)
                throw run.StoppedByShutdown ? new RpcException(new Status(StatusCode.Unavailable, failed.Message)) : Failed(failed.Message);
            if (e is not TokenGenerated t) continue;
            // Prompt log-probabilities only reach us with the result, so with them the input tokens come just
            // before the last message (TGIS sends them before the first token); without, the ids suffice.
            if (!sentInput && (!wantPrefill || t.Final is not null))
            {
                var input = new GenerationResponse { InputTokenCount = (uint)prepared.InputLength };
                input.InputTokens.AddRange(InputTokens(parameters, prepared, t.Final?.Prefill));
                yield return input;
                sentInput = true;
            }
            var message = new GenerationResponse { GeneratedTokenCount = (uint)(t.Index + 1), Text = t.TextDelta };
            if (parameters.Response.GeneratedTokens) message.Tokens.Add(TokenDetail(parameters, t.Token, t.TopTokens));
            if (t.Final is { } final)
            {
                message.StopReason = StopReasonOf(final.FinishReason, prepared);
                if (message.StopReason == StopReason.StopSequence) message.StopSequence = final.StopSequence ?? "";
                message.Seed = seed;
                yield return message;
                yield break;
            }
            // As TGIS: no message for a token that added neither text nor requested detail.
            if (message.Text.Length == 0 && message.Tokens.Count == 0) continue;
            yield return message;
        }
        cancellationToken.ThrowIfCancellationRequested();
        throw Failed("Incomplete generation");
    }

    public Task<TokenizeResponse> TokenizeAsync(string text, TokenizeOptions options, CancellationToken cancellationToken)
    {
        // The generation path's truncation rule, so a client can count what Generate will keep.
        var tokenizer = _service.Tokenizer;
        var tokens = tokenizer.EncodeToTokens(text);
        var kept = Generation.GenerationService.Truncate(Enumerable.Range(0, tokens.Count).ToList(), options.TruncateInputTokens,
            tokenizer.AddBos && tokens.Count > 0 && tokens[0].Id == tokenizer.BosId ? 0 : null);
        var response = new TokenizeResponse { TokenCount = (uint)kept.Count };
        foreach (int i in kept)
        {
            if (options.ReturnTokens) response.Tokens.Add(tokenizer.TokenText(tokens[i].Id));
            if (options.ReturnOffsets) response.Offsets.Add(new TokenizeResponse.Types.Offset { Start = (uint)tokens[i].Start, End = (uint)tokens[i].End });
        }
        return Task.FromResult(response);
    }

    private async Task<GenerationRun> StartAsync(IReadOnlyList<GenerationInput> inputs, RequestTelemetry telemetry, CancellationToken cancellationToken)
    {
        try
        {
            return await _service.StartAsync(inputs, cancellationToken, telemetry);
        }
        catch (GenerationException e)
        {
            telemetry.Failed(e);
            throw ToStatus(e);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            telemetry.Failed("cancelled");
            throw;
        }
    }

    /// <summary>TGIS's parameters as the service's input.</summary>
    private static GenerationInput Input(ValidatedGenerationRequest request)
    {
        var p = request.Parameters;
        var sampling = p.IsGreedy
            ? new EngineSampling { RepetitionPenalty = p.RepetitionPenalty }
            : new EngineSampling
            {
                DoSample = true,
                Temperature = p.Temperature,
                TopK = p.TopK,
                TopP = p.TopP,
                TypicalP = p.TypicalP,
                RepetitionPenalty = p.RepetitionPenalty,
            };
        return new GenerationInput
        {
            PromptText = request.Text,
            Truncate = p.TruncateInputTokens > 0 ? p.TruncateInputTokens : null,
            MaxNewTokens = p.MaxNewTokens,
            ClampToSequenceLimit = true,
            MinNewTokens = p.MinNewTokens,
            StopSequences = p.StopSequences,
            IncludeStopSequence = p.IncludeStopSequence,
            TimeLimit = p.TimeLimit ?? TimeSpan.Zero,
            Sampling = sampling,
            Seed = p.Seed,
            TopNTokens = p.Response.GeneratedTokens ? p.Response.TopNTokens : 0,
            TokenRanks = p.Response.GeneratedTokens && p.Response.TokenRanks,
            PrefillLogProbs = p.Response.InputTokens && p.Response.TokenLogprobs,
            LengthPenalty = p.LengthPenalty,
            PrefixId = request.PrefixId,
            AdapterId = request.AdapterId,
            AdapterParam = "adapter_id",
        };
    }

    /// <summary>The one mapping of the service's error kinds to gRPC statuses.</summary>
    private static RpcException ToStatus(GenerationException e) => e.Kind switch
    {
        GenerationErrorKind.InvalidRequest or GenerationErrorKind.ContextLength => new(new Status(StatusCode.InvalidArgument, e.Message)),
        GenerationErrorKind.Overloaded => new(new Status(StatusCode.ResourceExhausted, e.Message)),
        GenerationErrorKind.Unavailable => new(new Status(StatusCode.Unavailable, e.Message)),
        _ => Failed(e.Message),
    };

    /// <summary>TGIS reports the seed of a sampling request (0 for greedy).</summary>
    private static ulong Seed(ValidatedGenerationParameters parameters, PreparedInput prepared) => parameters.IsGreedy ? 0 : prepared.Seed;

    private GenerationResponse Response(ValidatedGenerationRequest request, PreparedInput prepared, GenerationResult result)
    {
        var parameters = request.Parameters;
        var reason = StopReasonOf(result.FinishReason, prepared);
        var response = new GenerationResponse
        {
            InputTokenCount = (uint)prepared.InputLength,
            GeneratedTokenCount = (uint)result.GeneratedTokenCount,
            Text = (parameters.Response.InputText ? request.Text : "") + result.GeneratedText,
            StopReason = reason,
            StopSequence = reason == StopReason.StopSequence ? result.StopSequence ?? "" : "",
            Seed = Seed(parameters, prepared),
        };
        if (parameters.Response.GeneratedTokens)
        {
            for (int i = 0; i < result.Tokens.Count; i++)
                response.Tokens.Add(TokenDetail(parameters, result.Tokens[i], result.TopTokens is { } top && i < top.Count ? top[i] : null));
        }
        if (parameters.Response.InputTokens) response.InputTokens.AddRange(InputTokens(parameters, prepared, result.Prefill));
        return response;
    }

    private GrpcTokenInfo TokenDetail(ValidatedGenerationParameters parameters, EngineTokenInfo token, IReadOnlyList<EngineTokenInfo>? top)
    {
        var response = parameters.Response;
        var tokenizer = _service.Tokenizer;
        var info = new GrpcTokenInfo { Text = tokenizer.TokenText(token.Id) };
        if (response.TokenLogprobs) info.Logprob = token.LogProb;
        if (response.TokenRanks) info.Rank = (uint)token.Rank;
        if (response.TopNTokens > 0 && top is not null)
        {
            foreach (var t in top) info.TopTokens.Add(new GrpcTokenInfo.Types.TopToken { Text = tokenizer.TokenText(t.Id), Logprob = t.LogProb });
        }
        return info;
    }

    private IEnumerable<GrpcTokenInfo> InputTokens(ValidatedGenerationParameters parameters, PreparedInput prepared, IReadOnlyList<EngineTokenInfo>? prefill)
    {
        bool logprobs = parameters.Response.TokenLogprobs;
        var tokenizer = _service.Tokenizer;
        for (int i = 0; i < prepared.PromptTokens.Count; i++)
        {
            var info = new GrpcTokenInfo { Text = tokenizer.TokenText(prepared.PromptTokens[i]) };
            // The first input token has no log-probability (nothing precedes it): NaN, as TGIS reports it.
            if (logprobs) info.Logprob = prefill is not null && i < prefill.Count ? prefill[i].LogProb : float.NaN;
            yield return info;
        }
    }

    private static StopReason StopReasonOf(FinishReason reason, PreparedInput prepared) => reason switch
    {
        FinishReason.Length => prepared.LimitedBySequenceLength ? StopReason.TokenLimit : StopReason.MaxTokens,
        FinishReason.EosToken => StopReason.EosToken,
        FinishReason.StopSequence => StopReason.StopSequence,
        FinishReason.TimeLimit => StopReason.TimeLimit,
        FinishReason.Cancelled => StopReason.Cancelled,
        _ => StopReason.Error,
    };

    // TGIS turns a generation error into a status from a non-gRPC error: UNKNOWN with this prefix.
    private static RpcException Failed(string message) => new(new Status(StatusCode.Unknown, "Request failed during generation: " + message));
}
