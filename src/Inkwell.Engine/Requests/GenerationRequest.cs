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
    /// <summary>Report each prompt token with its log-probability (TGI decoder_input_details).</summary>
    public bool PrefillLogProbs { get; init; }
    /// <summary>Soft prompt [n, dim] prepended to the prompt's embeddings (TGIS prompt tuning), and its cache salt.</summary>
    public float[]? PrefixEmbeddings { get; init; }
    public ulong PrefixSalt { get; init; }
    /// <summary>Optional per-token logits constraint (a compiled grammar); applied before sampling.</summary>
    public ITokenConstraint? Constraint { get; init; }
}

/// <summary>A stateful mask over the vocabulary, advanced by each accepted token (a grammar automaton instance).</summary>
public interface ITokenConstraint
{
    /// <summary>Sets disallowed logits to -infinity for the current state.</summary>
    void Mask(Span<float> logits);

    /// <summary>
    /// As <see cref="Mask(Span{float})"/>, knowing that at most tokensLeft tokens (this one included) may still be
    /// generated, so a grammar can steer to a complete match in time.
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
