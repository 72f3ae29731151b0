using Inkwell.Engine.Requests;
using LengthPenalty = Inkwell.Engine.Requests.LengthPenalty;
using Inkwell.Server.Grpc.Fmaas;

namespace Inkwell.Server.Grpc;

/// <summary>One input text with its validated parameters; model_id is not used (one model per server, as in TGIS).</summary>
public sealed record ValidatedGenerationRequest(string Text, string? PrefixId, ValidatedGenerationParameters Parameters, string? AdapterId = null);

/// <summary>
/// TGIS parameters after validation, with "0 means default" already resolved: Temperature 0 means greedy and
/// every sampling knob is then inert; TopP/TypicalP 1 and TopK 0 mean disabled; RepetitionPenalty 1 means none.
/// </summary>
public sealed record ValidatedGenerationParameters
{
    public float Temperature { get; init; }
    public int TopK { get; init; }
    public float TopP { get; init; } = 1f;
    public float TypicalP { get; init; } = 1f;
    /// <summary>The client's seed for a sampling request; null for greedy or when none was given (the generation service then picks a random 32-bit one, as TGIS does).</summary>
    public ulong? Seed { get; init; }

    public float RepetitionPenalty { get; init; } = 1f;
    public LengthPenalty? LengthPenalty { get; init; }

    public int MaxNewTokens { get; init; } = GenerationParameterValidator.DefaultMaxNewTokens;
    public int MinNewTokens { get; init; }
    /// <summary>Stop with TIME_LIMIT after this long; null means no limit.</summary>
    public TimeSpan? TimeLimit { get; init; }
    public IReadOnlyList<string> StopSequences { get; init; } = [];
    public bool IncludeStopSequence { get; init; } = true;

    /// <summary>Keep only the last this-many input tokens; 0 means don't truncate.</summary>
    public int TruncateInputTokens { get; init; }

    public ResponseDetail Response { get; init; } = new();

    public bool IsGreedy => Temperature == 0f;
}

/// <summary>What the response should carry besides text (TGIS ResponseOptions).</summary>
public sealed record ResponseDetail
{
    public bool InputText { get; init; }
    public bool GeneratedTokens { get; init; }
    public bool InputTokens { get; init; }
    public bool TokenLogprobs { get; init; }
    public bool TokenRanks { get; init; }
    public int TopNTokens { get; init; }
}
