namespace Inkwell.Engine.Sampling;

/// <summary>
/// How one request picks its next token. Values are already validated (TGI's rules); defaults mean "off".
/// DoSample false with no warper is greedy; Seed makes sampling reproducible whatever else is in the batch.
/// </summary>
public sealed record SamplingParameters
{
    public bool DoSample { get; init; }
    public float Temperature { get; init; } = 1f;
    public int TopK { get; init; }
    public float TopP { get; init; } = 1f;
    public float TypicalP { get; init; } = 1f;
    public float RepetitionPenalty { get; init; } = 1f;
    public float FrequencyPenalty { get; init; }
    public float PresencePenalty { get; init; }
    /// <summary>Kirchenbauer et al.'s watermark: a "green" half of the vocabulary, picked by the previous token, gets a bias.</summary>
    public bool Watermark { get; init; }
    public ulong Seed { get; init; }

    public static SamplingParameters Greedy { get; } = new();

    /// <summary>As TGI: any warper set turns sampling on even without do_sample.</summary>
    public bool IsSampling => DoSample || (Temperature != 1f && Temperature > 0f) || TopK > 0 || TopP < 1f || TypicalP < 1f;
}
