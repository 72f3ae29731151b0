using System.Text;
using Grpc.Core;
using Inkwell.Engine.Requests;
using LengthPenalty = Inkwell.Engine.Requests.LengthPenalty;
using Inkwell.Server.Grpc.Fmaas;

namespace Inkwell.Server.Grpc;

/// <summary>
/// TGIS's conversion and validation of Parameters (router grpc_server.rs convert_params + validation.rs), with its
/// error messages; failures are INVALID_ARGUMENT. As TGIS does by default, sampling parameters sent with GREEDY are
/// ignored rather than refused.
/// </summary>
public sealed class GenerationParameterValidator(GenerationModelInfo model, bool defaultIncludeStopSequence = true)
{
    public const int DefaultMaxNewTokens = 20;
    public const int MaxStopSequences = 6;
    public const int MaxStopSequenceBytes = 240;
    public const int MaxTopNTokens = 5;
    private const float MinTemperature = 0.05f;

    public ValidatedGenerationParameters Validate(Parameters? parameters)
    {
        var p = parameters ?? new Parameters();
        var sampling = p.Method == DecodingMethod.Sample ? p.Sampling ?? new SamplingParameters() : null;
        var stopping = p.Stopping ?? new StoppingCriteria();
        var response = p.Response ?? new ResponseOptions();
        var decoding = p.Decoding ?? new DecodingParameters();

        // Sampling with temperature 0 means "temperature disabled", i.e. 1.0; greedy is temperature 0.
        float temperature = sampling is null ? 0f : sampling.Temperature == 0f ? 1f : sampling.Temperature;
        float topP = sampling is { TopP: not 0f } ? sampling.TopP : 1f;
        float typicalP = sampling is { TypicalP: not 0f } ? sampling.TypicalP : 1f;
        int maxNewTokens = stopping.MaxNewTokens == 0 ? DefaultMaxNewTokens : Clamp(stopping.MaxNewTokens);
        int minNewTokens = Clamp(stopping.MinNewTokens);
        float repetitionPenalty = decoding.RepetitionPenalty == 0f ? 1f : decoding.RepetitionPenalty;

        // Protobuf floats may be NaN or infinite: every range check is written so that NaN fails it.
        if (!float.IsFinite(temperature)) throw Invalid("temperature must be a finite number");
        if (temperature != 0f && !(temperature >= MinTemperature)) throw Invalid("temperature must be >= 0.05");
        if (!(topP > 0f && topP <= 1f)) throw Invalid("top_p must be > 0.0 and <= 1.0");
        if (!(typicalP <= 1f) || !float.IsFinite(typicalP)) throw Invalid("typical_p must be <= 1.0");
        if (maxNewTokens > model.MaxNewTokens) throw Invalid($"max_new_tokens must be <= {model.MaxNewTokens}");
        if (!float.IsFinite(repetitionPenalty)) throw Invalid("repetition_penalty must be a finite number");
        if (!(repetitionPenalty > 0f)) throw Invalid("repetition_penalty must be > 0.0");
        if (decoding.LengthPenalty is { } length && !(length.DecayFactor >= 1f && length.DecayFactor <= 10f))
        {
            throw Invalid("length_penalty must be >= 1.0 and <= 10.0");
        }
        if (stopping.StopSequences.Count > MaxStopSequences
            || stopping.StopSequences.Any(s => s.Length == 0 || Encoding.UTF8.GetByteCount(s) > MaxStopSequenceBytes))
        {
            throw Invalid($"can specify at most {MaxStopSequences} non-empty stop sequences, each not more than {MaxStopSequenceBytes} UTF8 bytes");
        }
        bool tokenDetail = response.TokenLogprobs || response.TokenRanks || response.TopNTokens != 0;
        if (tokenDetail && !(response.InputTokens || response.GeneratedTokens))
        {
            throw Invalid("must request input and/or generated tokens to request extra token detail");
        }
        if (response.TopNTokens > MaxTopNTokens) throw Invalid($"top_n_tokens must be <= {MaxTopNTokens}");

        return new ValidatedGenerationParameters
        {
            Temperature = temperature,
            TopK = sampling is null ? 0 : Clamp(sampling.TopK),
            TopP = topP,
            TypicalP = typicalP,
            Seed = sampling is { HasSeed: true } ? sampling.Seed : null,
            RepetitionPenalty = repetitionPenalty,
            LengthPenalty = decoding.LengthPenalty is { } lp ? new LengthPenalty(Clamp(lp.StartIndex), lp.DecayFactor) : null,
            MaxNewTokens = maxNewTokens,
            MinNewTokens = minNewTokens,
            TimeLimit = stopping.TimeLimitMillis == 0 ? null : TimeSpan.FromMilliseconds(stopping.TimeLimitMillis),
            StopSequences = [.. stopping.StopSequences],
            IncludeStopSequence = stopping.HasIncludeStopSequence ? stopping.IncludeStopSequence : defaultIncludeStopSequence,
            TruncateInputTokens = Clamp(p.TruncateInputTokens),
            Response = new ResponseDetail
            {
                InputText = response.InputText,
                GeneratedTokens = response.GeneratedTokens,
                InputTokens = response.InputTokens,
                TokenLogprobs = response.TokenLogprobs,
                TokenRanks = response.TokenRanks,
                TopNTokens = (int)response.TopNTokens,
            },
        };
    }

    private static RpcException Invalid(string message) => new(new Status(StatusCode.InvalidArgument, message));

    // Protobuf uint32 values beyond int range are absurd for these fields; saturate so the range checks refuse them.
    private static int Clamp(uint value) => value > int.MaxValue ? int.MaxValue : (int)value;
}
