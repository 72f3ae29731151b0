using Inkwell.Engine.Requests;

namespace Inkwell.Engine.Sampling;

/// <summary>
/// What a processor or observer may know about the sequence it works on: prompt and generated token ids (views into
/// the engine's own lists, valid only during the call) and the token budget.
/// </summary>
public readonly ref struct SequenceState(ReadOnlySpan<int> prompt, ReadOnlySpan<int> generated, int maxNewTokens)
{
    public ReadOnlySpan<int> Prompt { get; } = prompt;
    public ReadOnlySpan<int> Generated { get; } = generated;
    public int MaxNewTokens { get; } = maxNewTokens;
    public int GeneratedCount => Generated.Length;
    /// <summary>Tokens the sequence may still generate, the one being sampled now included.</summary>
    public int TokensLeft => MaxNewTokens - Generated.Length;
}

/// <summary>Edits one sequence's logits row in place before sampling. Runs on the engine thread: allocate nothing.</summary>
public interface ILogitsProcessor
{
    void Process(SequenceState sequence, Span<float> logits);
}

/// <summary>Sees the processed row and the token drawn from it (before the token joins the sequence); changes nothing in the row.</summary>
public interface ITokenObserver
{
    void Observe(SequenceState sequence, ReadOnlySpan<float> logits, int token);
}

/// <summary>OpenAI's logit_bias: a fixed amount added to chosen tokens' logits (kept as parallel arrays: no dictionary walk per token).</summary>
public sealed class LogitBias(IReadOnlyDictionary<int, float> bias) : ILogitsProcessor
{
    private readonly int[] _ids = [.. bias.Keys];
    private readonly float[] _amounts = [.. bias.Values];

    public void Process(SequenceState sequence, Span<float> logits)
    {
        for (int i = 0; i < _ids.Length; i++)
            if ((uint)_ids[i] < (uint)logits.Length) logits[_ids[i]] += _amounts[i];
    }
}

/// <summary>min_new_tokens and ignore_eos: end-of-generation tokens get -infinity while they may not end the sequence.</summary>
public sealed class EosSuppression(int minNewTokens, bool ignoreEos, IReadOnlyCollection<int> eosIds) : ILogitsProcessor
{
    private readonly int[] _eosIds = [.. eosIds]; // an array: enumerating the set would allocate per token

    public void Process(SequenceState sequence, Span<float> logits)
    {
        if (!ignoreEos && sequence.GeneratedCount >= minNewTokens) return;
        foreach (int eos in _eosIds) if ((uint)eos < (uint)logits.Length) logits[eos] = float.NegativeInfinity;
    }
}

/// <summary>
/// TGIS's length penalty, as Hugging Face's ExponentialDecayLengthPenalty: once more than start_index tokens were
/// generated, EOS += |EOS| * (decay_factor^(generated - start_index) - 1).
/// </summary>
public sealed class ExponentialLengthPenalty(LengthPenalty penalty, IReadOnlyCollection<int> eosIds) : ILogitsProcessor
{
    private readonly int[] _eosIds = [.. eosIds];

    public void Process(SequenceState sequence, Span<float> logits)
    {
        if (sequence.GeneratedCount <= penalty.StartIndex) return;
        float factor = MathF.Pow(penalty.DecayFactor, sequence.GeneratedCount - penalty.StartIndex) - 1f;
        foreach (int eos in _eosIds)
            if ((uint)eos < (uint)logits.Length && float.IsFinite(logits[eos])) logits[eos] += MathF.Abs(logits[eos]) * factor;
    }
}

/// <summary>A grammar as a processor (masks what the automaton forbids, told the tokens left) and an observer (advances it).</summary>
public sealed class ConstraintProcessor(ITokenConstraint constraint) : ILogitsProcessor, ITokenObserver
{
    public void Process(SequenceState sequence, Span<float> logits) => constraint.Mask(logits, sequence.TokensLeft);

    public void Observe(SequenceState sequence, ReadOnlySpan<float> logits, int token) => constraint.Advance(token);
}

/// <summary>Repetition penalty as in CTRL/TGI: every distinct token seen (prompt and generated) has positive logits divided, negative multiplied.</summary>
public sealed class RepetitionPenalty(float penalty, int vocabSize) : ILogitsProcessor
{
    private readonly ulong[] _seen = new ulong[(vocabSize + 63) / 64];

    public void Process(SequenceState sequence, Span<float> logits)
    {
        // Each distinct token is penalised once however often it was seen (a bitset marks the done ones).
        _seen.AsSpan().Clear();
        Apply(sequence.Prompt, logits);
        Apply(sequence.Generated, logits);
    }

    private void Apply(ReadOnlySpan<int> tokens, Span<float> logits)
    {
        foreach (int t in tokens)
        {
            if ((uint)t >= (uint)logits.Length || (_seen[t >> 6] & (1UL << t)) != 0) continue;
            _seen[t >> 6] |= 1UL << t;
            float l = logits[t];
            logits[t] = l > 0 ? l / penalty : l * penalty;
        }
    }
}

/// <summary>OpenAI's frequency and presence penalties over generated tokens (counts kept incrementally).</summary>
public sealed class FrequencyPresencePenalty(float frequency, float presence, int vocabSize) : ILogitsProcessor
{
    private readonly int[] _counts = new int[vocabSize];
    private int _counted;

    public void Process(SequenceState sequence, Span<float> logits)
    {
        var generated = sequence.Generated;
        for (; _counted < generated.Length; _counted++)
            if ((uint)generated[_counted] < (uint)_counts.Length) _counts[generated[_counted]]++;
        for (int t = 0; t < _counts.Length && t < logits.Length; t++)
        {
            int count = _counts[t];
            if (count > 0) logits[t] -= frequency * count + presence;
        }
    }
}

/// <summary>Kirchenbauer et al.'s watermark: a "green" half of the vocabulary, picked by the previous token, gets a bias.</summary>
public sealed class Watermark : ILogitsProcessor
{
    internal const float Gamma = 0.5f, Delta = 2f;

    public void Process(SequenceState sequence, Span<float> logits)
    {
        int previous = sequence.Generated.Length > 0 ? sequence.Generated[^1] : sequence.Prompt.Length > 0 ? sequence.Prompt[^1] : -1;
        if (previous >= 0) Apply(logits, previous);
    }

    internal static void Apply(Span<float> logits, int previousToken)
    {
        for (int t = 0; t < logits.Length; t++)
            if (IsGreen(previousToken, t)) logits[t] += Delta;
    }

    internal static bool IsGreen(int previousToken, int token)
    {
        var rng = new SplitMix64(((ulong)(uint)previousToken << 32) ^ (uint)token ^ 0x5DEECE66DUL);
        return rng.NextDouble() < Gamma;
    }
}

/// <summary>One alternative token and its log-probability under the processed distribution.</summary>
public readonly record struct TokenLogprob(int Id, float LogProb);

/// <summary>
/// The n most likely tokens at each step (ties: lower id first), written into a buffer sized for the whole budget so
/// the engine thread never allocates; the output stage reads entry i after token i's event (the channel orders them).
/// </summary>
public sealed class TopTokensObserver(int n, int maxNewTokens) : ITokenObserver
{
    private readonly TokenLogprob[] _top = new TokenLogprob[n * maxNewTokens];
    private readonly int[] _counts = new int[maxNewTokens];

    public ReadOnlySpan<TokenLogprob> At(int index) => (uint)index < (uint)_counts.Length ? _top.AsSpan(index * n, _counts[index]) : default;

    public void Observe(SequenceState sequence, ReadOnlySpan<float> logits, int token)
    {
        int index = sequence.GeneratedCount;
        if ((uint)index >= (uint)_counts.Length) return;
        float logSum = Sampler.LogSumExp(logits);
        var best = _top.AsSpan(index * n, n);
        // best[0..count) kept sorted by descending logit; a candidate enters only if it beats the current last.
        int count = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            float l = logits[i];
            if (float.IsNegativeInfinity(l) || (count == n && l <= logits[best[count - 1].Id])) continue;
            int at = count < n ? count++ : n - 1;
            while (at > 0 && l > logits[best[at - 1].Id]) { best[at] = best[at - 1]; at--; }
            best[at] = new TokenLogprob(i, 0f);
        }
        for (int i = 0; i < count; i++) best[i] = best[i] with { LogProb = logits[best[i].Id] - logSum };
        _counts[index] = count;
    }
}

/// <summary>Each generated token's one-based rank among the processed candidates (TGIS token_ranks).</summary>
public sealed class RankObserver(int maxNewTokens) : ITokenObserver
{
    private readonly int[] _ranks = new int[maxNewTokens];

    public int At(int index) => (uint)index < (uint)_ranks.Length ? _ranks[index] : 0;

    public void Observe(SequenceState sequence, ReadOnlySpan<float> logits, int token)
    {
        int index = sequence.GeneratedCount;
        if ((uint)index >= (uint)_ranks.Length) return;
        float chosen = logits[token];
        int better = 0;
        foreach (float l in logits) if (l > chosen) better++;
        _ranks[index] = better + 1;
    }
}

/// <summary>A sequence's processors and observers in the order they run, built once when the request is admitted.</summary>
public sealed class LogitsPipeline
{
    private LogitsPipeline(ILogitsProcessor[] processors, ITokenObserver[] observers, TopTokensObserver? top, RankObserver? ranks)
    {
        Processors = processors;
        Observers = observers;
        TopTokens = top;
        Ranks = ranks;
    }

    public IReadOnlyList<ILogitsProcessor> Processors { get; }
    public IReadOnlyList<ITokenObserver> Observers { get; }
    public TopTokensObserver? TopTokens { get; }
    public RankObserver? Ranks { get; }

    /// <summary>
    /// Order: logit bias, EOS suppression, length penalty, grammar mask, repetition, frequency/presence, watermark; then the
    /// sampler's warpers (temperature, top-k, top-p, typical-p). Observers see the row after the processors.
    /// </summary>
    public static LogitsPipeline For(GenerationRequest request, IReadOnlyCollection<int> eosIds, int vocabSize)
    {
        var processors = new List<ILogitsProcessor>();
        var observers = new List<ITokenObserver>();
        var stopping = request.Stopping;
        var sampling = request.Sampling;
        if (request.LogitBias is { Count: > 0 } bias) processors.Add(new LogitBias(bias));
        if (stopping.MinNewTokens > 0 || stopping.IgnoreEos) processors.Add(new EosSuppression(stopping.MinNewTokens, stopping.IgnoreEos, eosIds));
        if (request.LengthPenalty is { } lp) processors.Add(new ExponentialLengthPenalty(lp, eosIds));
        if (request.Constraint is { } constraint)
        {
            var grammar = new ConstraintProcessor(constraint);
            processors.Add(grammar);
            observers.Add(grammar);
        }
        if (sampling.RepetitionPenalty != 1f) processors.Add(new RepetitionPenalty(sampling.RepetitionPenalty, vocabSize));
        if (sampling.FrequencyPenalty != 0f || sampling.PresencePenalty != 0f)
            processors.Add(new FrequencyPresencePenalty(sampling.FrequencyPenalty, sampling.PresencePenalty, vocabSize));
        if (sampling.Watermark) processors.Add(new Watermark());
        var top = request.TopNTokens > 0 ? new TopTokensObserver(request.TopNTokens, stopping.MaxNewTokens) : null;
        var ranks = request.TokenRanks ? new RankObserver(stopping.MaxNewTokens) : null;
        if (top is not null) observers.Add(top);
        if (ranks is not null) observers.Add(ranks);
        return new LogitsPipeline([.. processors], [.. observers], top, ranks);
    }
}
