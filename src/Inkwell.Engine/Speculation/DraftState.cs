namespace Inkwell.Engine.Speculation;

/// <summary>What a drafter asks for one request in one step: the request and how many draft tokens it may propose.</summary>
public readonly record struct DraftSlot(Requests.EngineRequest Request, int MaxTokens);

/// <summary>
/// One request's draft for the current step (engine thread only): the proposed tokens, and, when they were sampled
/// from a draft distribution q, that distribution per position (rejection sampling needs q(x) and q itself on
/// rejection). Draft tokens proposed without a distribution are point masses. Buffers are kept across steps.
/// </summary>
public sealed class DraftState(int capacity)
{
    public int[] Tokens { get; } = new int[capacity];
    /// <summary>Draft tokens in this step (also appended to the request's token list while they are verified).</summary>
    public int Count { get; set; }
    /// <summary>True when <see cref="Distribution"/> holds each draft token's q row; false: point masses.</summary>
    public bool Sampled { get; set; }
    private float[] _distributions = [];

    /// <summary>The q row of draft position <paramref name="index"/> (grown on first use).</summary>
    public Span<float> Distribution(int index, int vocab)
    {
        if (_distributions.Length < Tokens.Length * vocab) _distributions = new float[Tokens.Length * vocab];
        return _distributions.AsSpan(index * vocab, vocab);
    }

    /// <summary>The step whose plan covers this draft (the speculator's bookkeeping).</summary>
    internal long PlannedStep { get; set; }
    /// <summary>The draft model's own KV for this request, when a draft model drafts.</summary>
    internal DraftSequence? Sequence { get; set; }
}

/// <summary>
/// A request's KV in the draft model's cache: its blocks, how many leading tokens they hold, and how far its full blocks
/// are registered for prefix reuse.
/// </summary>
internal sealed class DraftSequence
{
    public List<int> Blocks { get; } = [];
    public int Computed { get; set; }
    public KvCache.PrefixChain Prefix;
}
