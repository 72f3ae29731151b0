using Grpc.Core;
using Inkwell.Server.Grpc;
using Inkwell.Server.Grpc.Fmaas;

namespace Inkwell.Server.Tests.Grpc;

public class GenerationParameterValidatorTests
{
    private static readonly GenerationModelInfo Model = new(ModelInfoResponse.Types.ModelKind.DecoderOnly, MaxSequenceLength: 100, MaxNewTokens: 50);
    private static readonly GenerationParameterValidator Validator = new(Model);

    [Fact]
    public void NoParameters_MeansGreedyWithTgisDefaults()
    {
        var p = Validator.Validate(null);
        Assert.True(p.IsGreedy);
        Assert.Null(p.Seed);
        Assert.Equal(20, p.MaxNewTokens);
        Assert.Equal(1f, p.TopP);
        Assert.Equal(1f, p.RepetitionPenalty);
        Assert.True(p.IncludeStopSequence);
        Assert.Null(p.TimeLimit);
    }

    [Fact]
    public void Sample_ResolvesZerosToDisabled_LeavingTheSeedToTheGenerationService()
    {
        var p = Validator.Validate(new Parameters { Method = DecodingMethod.Sample, Sampling = new SamplingParameters { TopK = 5 } });
        Assert.Equal(1f, p.Temperature);
        Assert.Equal(5, p.TopK);
        Assert.Equal(1f, p.TopP);
        Assert.Equal(1f, p.TypicalP);
        Assert.Null(p.Seed);
    }

    [Fact]
    public void Sample_KeepsGivenSeedAndValues()
    {
        var p = Validator.Validate(new Parameters
        {
            Method = DecodingMethod.Sample,
            Sampling = new SamplingParameters { Temperature = 0.7f, TopP = 0.9f, TypicalP = 0.5f, Seed = 7 },
            Stopping = new StoppingCriteria { MaxNewTokens = 30, MinNewTokens = 3, TimeLimitMillis = 1500, StopSequences = { "\n\n" }, IncludeStopSequence = false },
            Decoding = new DecodingParameters { RepetitionPenalty = 1.2f, LengthPenalty = new DecodingParameters.Types.LengthPenalty { StartIndex = 4, DecayFactor = 1.5f } },
            Response = new ResponseOptions { GeneratedTokens = true, TokenLogprobs = true, TopNTokens = 5 },
            TruncateInputTokens = 64,
        });
        Assert.Equal((0.7f, 0.9f, 0.5f, 7UL), (p.Temperature, p.TopP, p.TypicalP, p.Seed));
        Assert.Equal((30, 3, TimeSpan.FromMilliseconds(1500)), (p.MaxNewTokens, p.MinNewTokens, p.TimeLimit));
        Assert.Equal(["\n\n"], p.StopSequences);
        Assert.False(p.IncludeStopSequence);
        Assert.Equal(new Inkwell.Engine.Requests.LengthPenalty(4, 1.5f), p.LengthPenalty);
        Assert.Equal(1.2f, p.RepetitionPenalty);
        Assert.Equal(64, p.TruncateInputTokens);
        Assert.Equal(5, p.Response.TopNTokens);
    }

    [Fact]
    public void Greedy_IgnoresSamplingParameters()
    {
        var p = Validator.Validate(new Parameters { Method = DecodingMethod.Greedy, Sampling = new SamplingParameters { Temperature = 0.01f, TopP = 5f, Seed = 3 } });
        Assert.True(p.IsGreedy);
        Assert.Null(p.Seed);
        Assert.Equal(1f, p.TopP);
    }

    public static TheoryData<Parameters, string> InvalidParameters => new()
    {
        { Sample(new SamplingParameters { Temperature = 0.01f }), "temperature must be >= 0.05" },
        { Sample(new SamplingParameters { TopP = 1.5f }), "top_p must be > 0.0 and <= 1.0" },
        { Sample(new SamplingParameters { TopP = -0.5f }), "top_p must be > 0.0 and <= 1.0" },
        { Sample(new SamplingParameters { TypicalP = 1.1f }), "typical_p must be <= 1.0" },
        { new Parameters { Stopping = new StoppingCriteria { MaxNewTokens = 51 } }, "max_new_tokens must be <= 50" },
        { new Parameters { Decoding = new DecodingParameters { RepetitionPenalty = -1f } }, "repetition_penalty must be > 0.0" },
        { new Parameters { Decoding = new DecodingParameters { LengthPenalty = new() { DecayFactor = 0.5f } } }, "length_penalty must be >= 1.0 and <= 10.0" },
        { new Parameters { Stopping = new StoppingCriteria { StopSequences = { "a", "b", "c", "d", "e", "f", "g" } } }, "can specify at most 6 non-empty stop sequences, each not more than 240 UTF8 bytes" },
        { new Parameters { Stopping = new StoppingCriteria { StopSequences = { "" } } }, "can specify at most 6 non-empty stop sequences, each not more than 240 UTF8 bytes" },
        { new Parameters { Stopping = new StoppingCriteria { StopSequences = { new string('é', 121) } } }, "can specify at most 6 non-empty stop sequences, each not more than 240 UTF8 bytes" },
        { new Parameters { Response = new ResponseOptions { TokenRanks = true } }, "must request input and/or generated tokens to request extra token detail" },
        { new Parameters { Response = new ResponseOptions { GeneratedTokens = true, TopNTokens = 6 } }, "top_n_tokens must be <= 5" },
    };

    [Theory]
    [MemberData(nameof(InvalidParameters))]
    public void Refuses_WithTgisMessage(Parameters parameters, string message)
    {
        var error = Assert.Throws<RpcException>(() => Validator.Validate(parameters));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.Equal(message, error.Status.Detail);
    }

    /// <summary>Protobuf floats carry NaN and infinities; each one must fail its field's check, not slip past it.</summary>
    public static TheoryData<Parameters, string> NonFiniteParameters => new()
    {
        { Sample(new SamplingParameters { Temperature = float.NaN }), "temperature" },
        { Sample(new SamplingParameters { Temperature = float.PositiveInfinity }), "temperature" },
        { Sample(new SamplingParameters { TopP = float.NaN }), "top_p" },
        { Sample(new SamplingParameters { TypicalP = float.NaN }), "typical_p" },
        { Sample(new SamplingParameters { TypicalP = float.NegativeInfinity }), "typical_p" },
        { new Parameters { Decoding = new DecodingParameters { RepetitionPenalty = float.NaN } }, "repetition_penalty" },
        { new Parameters { Decoding = new DecodingParameters { RepetitionPenalty = float.PositiveInfinity } }, "repetition_penalty" },
        { new Parameters { Decoding = new DecodingParameters { LengthPenalty = new() { DecayFactor = float.NaN } } }, "length_penalty" },
    };

    [Theory]
    [MemberData(nameof(NonFiniteParameters))]
    public void NonFiniteFloats_AreRefused(Parameters parameters, string field)
    {
        var error = Assert.Throws<RpcException>(() => Validator.Validate(parameters));
        Assert.Equal(StatusCode.InvalidArgument, error.StatusCode);
        Assert.StartsWith(field, error.Status.Detail);
    }

    private static Parameters Sample(SamplingParameters sampling) => new() { Method = DecodingMethod.Sample, Sampling = sampling };
}
