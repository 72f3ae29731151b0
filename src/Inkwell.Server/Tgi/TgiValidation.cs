using Inkwell.Engine.Grammar;
using Inkwell.Engine.Sampling;
using Inkwell.Server.Generation;
using Inkwell.Server.Grammar;

namespace Inkwell.Server.Tgi;

/// <summary>A TGI request that passed TGI's own checks: the service's input, plus what the response needs.</summary>
public sealed record ValidGenerateRequest(string Inputs, GenerationInput Input, bool Details, bool DecoderInputDetails, bool ReturnFullText);

/// <summary>An input validation error: TGI answers 422 {"error": "Input validation error: ...", "error_type": "validation"}.</summary>
public sealed class ValidationException(string message) : Exception(message);

/// <summary>Limits from the launcher flags (TGI's names).</summary>
public sealed record ValidationLimits
{
    public int MaxBestOf { get; init; } = 2;
    public int MaxStopSequences { get; init; } = 4;
    public int MaxTopNTokens { get; init; } = 5;
    public int MaxInputTokens { get; init; } = 1024;
    public int MaxTotalTokens { get; init; } = 2048;
}

/// <summary>
/// TGI's router validation (router/src/validation.rs), in its order and with its messages, for everything that needs
/// no tokenizer: turns a JSON request into a <see cref="ValidGenerateRequest"/> or throws <see cref="ValidationException"/>.
/// Token counts, truncation and limits are the <see cref="GenerationService"/>'s, after the permit.
/// </summary>
public sealed class TgiValidator(ValidationLimits limits)
{
    /// <summary>TGI's default max_new_tokens when the client gives none (capped by what fits).</summary>
    public const int DefaultGenerationLength = 1024;

    public ValidationLimits Limits { get; } = limits;

    public ValidGenerateRequest Validate(GenerateRequestDto request, bool streaming)
    {
        var p = request.Parameters ?? new GenerateParametersDto();
        int bestOf = p.BestOf ?? 1;
        if (bestOf != 1 && Limits.MaxBestOf == 1) throw new ValidationException("`best_of` != 1 is not allowed for this endpoint");
        if (bestOf <= 0 || bestOf > Limits.MaxBestOf) throw new ValidationException($"`best_of` must be > 0 and <= {Limits.MaxBestOf}. Given: {bestOf}");
        if (streaming && bestOf > 1) throw new ValidationException("`best_of` != 1 is not supported when streaming tokens");
        if (streaming && p.DecoderInputDetails) throw new ValidationException("`decoder_input_details` == true is not supported when streaming tokens");

        bool sampling = p.DoSample || p.Temperature is not null || p.TopK is not null || p.TopP is not null || p.TypicalP is not null;
        if (bestOf > 1 && !sampling) throw new ValidationException("you must use sampling when `best_of` is > 1");

        float temperature = p.Temperature ?? 1f;
        if (!(temperature > 0f)) throw new ValidationException("`temperature` must be strictly positive");
        float repetition = p.RepetitionPenalty ?? 1f;
        if (!(repetition > 0f)) throw new ValidationException("`repetition_penalty` must be strictly positive");
        float frequency = p.FrequencyPenalty ?? 0f;
        if (!(frequency >= -2f && frequency <= 2f)) throw new ValidationException("`frequency_penalty` must be >= -2.0 and <= 2.0");
        float topP = p.TopP ?? 1f;
        if (p.TopP is not null && !(topP > 0f && topP < 1f)) throw new ValidationException("`top_p` must be > 0.0 and < 1.0");
        float typicalP = p.TypicalP ?? 1f;
        if (p.TypicalP is not null && !(typicalP > 0f && typicalP < 1f)) throw new ValidationException("`typical_p` must be > 0.0 and < 1.0");
        int topK = p.TopK ?? 0;
        if (p.TopK is not null && topK <= 0) throw new ValidationException("`top_k` must be strictly positive");
        if (p.MaxNewTokens is <= 0) throw new ValidationException("`max_new_tokens` must be strictly positive");
        // Beyond TGI: the engine's min_new_tokens and ignore_eos (vLLM's min_tokens / ignore_eos), as extra parameters.
        if (p.MinNewTokens is < 0) throw new ValidationException("`min_new_tokens` must be >= 0");
        if (p.MinNewTokens is { } min && p.MaxNewTokens is { } max && min > max) throw new ValidationException("`min_new_tokens` must be <= `max_new_tokens`");
        var bias = LogitBiasParser.Parse(p.LogitBias, message => new ValidationException("`logit_bias` " + message));
        var stop = p.Stop ?? [];
        if (stop.Count > Limits.MaxStopSequences) throw new ValidationException($"`stop` supports up to {Limits.MaxStopSequences} stop sequences. Given: {stop.Count}");
        if (p.Seed is not null && bestOf > 1) throw new ValidationException("`seed` must not be set when `best_of` > 1");
        int topN = p.TopNTokens ?? 0;
        if (topN < 0 || topN > Limits.MaxTopNTokens) throw new ValidationException($"`top_n_tokens` must be >= 0 and <= {Limits.MaxTopNTokens}. Given: {topN}");
        string inputs = request.Inputs ?? "";
        if (inputs.Length == 0) throw new ValidationException("`inputs` cannot be empty");
        CheckTruncate(p.Truncate);
        GrammarSpec? grammar = null;
        if (p.Grammar is { } g)
        {
            try { grammar = GrammarService.FromTgi(g); }
            catch (GrammarException e) { throw new ValidationException(e.Message); }
        }

        var input = new GenerationInput
        {
            PromptText = inputs,
            Truncate = p.Truncate,
            MaxNewTokens = p.MaxNewTokens,
            DefaultMaxNewTokens = DefaultGenerationLength,
            MinNewTokens = p.MinNewTokens ?? 0,
            IgnoreEos = p.IgnoreEos,
            LogitBias = bias,
            StopSequences = stop,
            IncludeStopSequence = true,
            Sampling = new SamplingParameters
            {
                DoSample = p.DoSample,
                Temperature = temperature,
                TopK = topK,
                TopP = topP,
                TypicalP = typicalP,
                RepetitionPenalty = repetition,
                FrequencyPenalty = frequency,
                Watermark = p.Watermark,
            },
            Seed = p.Seed,
            Sequences = bestOf,
            TopNTokens = topN,
            PrefillLogProbs = p.DecoderInputDetails,
            Grammar = grammar,
            AdapterId = string.IsNullOrEmpty(p.AdapterId) ? null : p.AdapterId,
            AdapterParam = "adapter_id",
        };
        return new ValidGenerateRequest(inputs, input, p.Details, p.DecoderInputDetails, p.ReturnFullText ?? false);
    }

    /// <summary>`truncate` as TGI bounds it, for /generate and /tokenize alike.</summary>
    public void CheckTruncate(int? truncate)
    {
        if (truncate is { } t && (t <= 0 || t > Limits.MaxInputTokens))
            throw new ValidationException($"`truncate` must be strictly positive and less than {Limits.MaxInputTokens}. Given: {t}");
    }
}
