using Inkwell.Engine.Grammar;
using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;

namespace Inkwell.Server.Generation;

/// <summary>
/// A request as every front end hands it to the <see cref="GenerationService"/> once its wire format is parsed and
/// its API's own value ranges are checked: nothing here has been tokenized, looked up or compiled yet (that work
/// waits for a permit). Null means "the service's default".
/// </summary>
public sealed record GenerationInput
{
    /// <summary>The prompt as text (tokenized by the service), or <see cref="PromptTokens"/> when the client sent ids.</summary>
    public string? PromptText { get; init; }
    public IReadOnlyList<int>? PromptTokens { get; init; }
    /// <summary>Add BOS (etc.) while tokenizing; false for a rendered chat template, which writes its own.</summary>
    public bool AddSpecialTokens { get; init; } = true;
    /// <summary>Keep only the last this-many prompt tokens (a BOS the tokenizer added stays first and counts).</summary>
    public int? Truncate { get; init; }

    /// <summary>Tokens to generate; null = as many as fit, capped at <see cref="DefaultMaxNewTokens"/>.</summary>
    public int? MaxNewTokens { get; init; }
    public int DefaultMaxNewTokens { get; init; } = int.MaxValue;
    /// <summary>
    /// TGIS's rule: a max_new_tokens that overflows the sequence limit is lowered to fit (the sequence then ends
    /// with <see cref="PreparedInput.LimitedBySequenceLength"/>); otherwise the request is refused.
    /// </summary>
    public bool ClampToSequenceLimit { get; init; }
    public int MinNewTokens { get; init; }
    public bool IgnoreEos { get; init; }
    public IReadOnlyList<string> StopSequences { get; init; } = [];
    public bool IncludeStopSequence { get; init; } = true;
    public TimeSpan TimeLimit { get; init; }

    /// <summary>Warpers and penalties; the seed is set by the service from <see cref="Seed"/>.</summary>
    public SamplingParameters Sampling { get; init; } = SamplingParameters.Greedy;
    /// <summary>Seed of sequence 0 (sequence i uses Seed + i); null = a random 32-bit seed, reported back.</summary>
    public ulong? Seed { get; init; }
    /// <summary>Sequences to generate from this prompt (TGI best_of, OpenAI n); each holds a permit.</summary>
    public int Sequences { get; init; } = 1;

    public int TopNTokens { get; init; }
    public bool TokenRanks { get; init; }
    public bool PrefillLogProbs { get; init; }
    public LengthPenalty? LengthPenalty { get; init; }
    /// <summary>Token id to logit bias (OpenAI's logit_bias); ids are checked against the vocabulary by the service.</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }

    /// <summary>A grammar to compile (cached) and constrain every sequence with; GrammarParam names its field in errors.</summary>
    public GrammarSpec? Grammar { get; init; }
    public string GrammarParam { get; init; } = "grammar";
    /// <summary>A TGIS prompt-tuning prefix to load and prepend.</summary>
    public string? PrefixId { get; init; }
    /// <summary>The LoRA adapter (by name) to generate with; null = the base model. AdapterParam names its field in errors.</summary>
    public string? AdapterId { get; init; }
    public string AdapterParam { get; init; } = "adapter_id";
}

/// <summary>An input after tokenization, truncation, limits and seeding: what was actually submitted.</summary>
public sealed record PreparedInput(GenerationInput Input, IReadOnlyList<int> PromptTokens, int PrefixTokenCount, int MaxNewTokens, bool LimitedBySequenceLength, ulong Seed)
{
    public int InputLength => PromptTokens.Count;
}

/// <summary>The server's token limits (TGI's --max-input-tokens and --max-total-tokens; TGIS's max sequence length is the total).</summary>
public sealed record GenerationLimits(int MaxInputTokens, int MaxTotalTokens);
