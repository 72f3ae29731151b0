using Inkwell.Engine.Sampling;

namespace Inkwell.Engine.Requests;

/// <summary>A validated request as the engine takes it: prompt token ids and how to sample and stop.</summary>
public sealed record GenerationRequest
{
    public required IReadOnlyList<int> PromptTokens { get; init; }
    public SamplingParameters Sampling { get; init; } = SamplingParameters.Greedy;
    public StoppingParameters Stopping { get; init; } = new();
    /// <summary>Report the n most likely tokens at each step (0 = none).</summary>
    public int TopNTokens { get; init; }
    /// <summary>Report each generated token's rank among the candidates it was drawn from (TGIS token_ranks).</summary>
    public bool TokenRanks { get; init; }
    /// <summary>Report each prompt token with its log-probability (TGI decoder_input_details).</summary>
    public bool PrefillLogProbs { get; init; }
    /// <summary>Soft prompt [n, dim] prepended to the prompt's embeddings (TGIS prompt tuning), and its cache salt.</summary>
    public float[]? PrefixEmbeddings { get; init; }
    public ulong PrefixSalt { get; init; }
    /// <summary>The LoRA adapter every row of this sequence runs with (one attached to the engine's model); null = the base model.</summary>
    public Models.Lora.LoraAdapter? Adapter { get; init; }
    /// <summary>Optional per-sequence grammar; the engine runs it as a logits processor and advances it with each token.</summary>
    public ITokenConstraint? Constraint { get; init; }
    /// <summary>Added to the logits of these token ids before anything else (OpenAI's logit_bias); null = none.</summary>
    public IReadOnlyDictionary<int, float>? LogitBias { get; init; }
    /// <summary>TGIS's exponential length penalty on the end-of-generation tokens; null = none.</summary>
    public LengthPenalty? LengthPenalty { get; init; }
}

/// <summary>Boost EOS by DecayFactor^(generated - StartIndex) once more than StartIndex tokens were generated.</summary>
public sealed record LengthPenalty(int StartIndex, float DecayFactor);

/// <summary>A stateful mask over the vocabulary, advanced by each accepted token (a grammar automaton instance).</summary>
public interface ITokenConstraint
{
    /// <summary>Sets disallowed logits to -infinity for the current state.</summary>
    void Mask(Span<float> logits);

    /// <summary>
    /// As <see cref="Mask(Span{float})"/>, knowing how many tokens the sequence may still generate (this one included),
    /// so a constraint can steer towards completing in time. The default ignores the budget.
    /// </summary>
    void Mask(Span<float> logits, int tokensLeft) => Mask(logits);

    /// <summary>Moves to the state after token; false when the token was not allowed.</summary>
    bool Advance(int token);

    /// <summary>True when the constraint is satisfied and generation may stop here.</summary>
    bool IsComplete { get; }

    /// <summary>True when no further token is allowed (generation must stop).</summary>
    bool IsExhausted { get; }

    /// <summary>A new instance in the initial state, for another sequence of the same request (best_of, n).</summary>
    ITokenConstraint CreateFresh();
}
