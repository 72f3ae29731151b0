using Inkwell.Engine.Requests;

namespace Inkwell.Server.Grpc;

/// <summary>
/// Rides the engine's per-request constraint hook (called on the engine thread with each row of logits before
/// sampling, then with the chosen token) to do two TGIS things the engine does not: the exponential length penalty
/// on EOS, and each generated token's rank. It never masks anything else and never ends generation.
/// </summary>
internal sealed class TokenObserver : ITokenConstraint
{
    private readonly LengthPenalty? _lengthPenalty;
    private readonly IReadOnlyCollection<int> _eosIds;
    private readonly float[]? _ranksFrom;   // copy of the current row, kept only when ranks are wanted
    private readonly int[]? _ranks;
    private int _generated;

    private readonly int _vocabSize, _maxNewTokens;

    public TokenObserver(LengthPenalty? lengthPenalty, IReadOnlyCollection<int> eosIds, int vocabSize, int maxNewTokens, bool wantRanks)
    {
        _vocabSize = vocabSize;
        _maxNewTokens = maxNewTokens;
        _lengthPenalty = lengthPenalty;
        _eosIds = eosIds;
        if (wantRanks)
        {
            _ranksFrom = new float[vocabSize];
            // Preallocated so readers on other threads never see a resize.
            _ranks = new int[maxNewTokens];
        }
    }

    /// <summary>One-based rank of generated token <paramref name="index"/> among the candidates it was drawn from (0 when not tracked).</summary>
    public int RankAt(int index) => _ranks is { } r && (uint)index < (uint)r.Length ? Volatile.Read(ref r[index]) : 0;

    public bool IsComplete => true;

    public bool IsExhausted => false;

    public ITokenConstraint CreateFresh() => new TokenObserver(_lengthPenalty, _eosIds, _vocabSize, _maxNewTokens, _ranks is not null);

    public void Mask(Span<float> logits)
    {
        // As Hugging Face's ExponentialDecayLengthPenalty (which TGIS uses): once more than start_index tokens were
        // generated, EOS += |EOS| * (decay_factor^(generated - start_index) - 1).
        if (_lengthPenalty is { } lp && _generated > lp.StartIndex)
        {
            float factor = MathF.Pow(lp.DecayFactor, _generated - lp.StartIndex) - 1f;
            foreach (int eos in _eosIds)
            {
                if ((uint)eos < (uint)logits.Length && float.IsFinite(logits[eos])) logits[eos] += MathF.Abs(logits[eos]) * factor;
            }
        }
        if (_ranksFrom is not null) logits.CopyTo(_ranksFrom);
    }

    public bool Advance(int token)
    {
        if (_ranksFrom is not null && _ranks is not null && _generated < _ranks.Length)
        {
            float chosen = _ranksFrom[token];
            int better = 0;
            foreach (float l in _ranksFrom) if (l > chosen) better++;
            Volatile.Write(ref _ranks[_generated], better + 1);
        }
        _generated++;
        return true;
    }
}
