using System.Runtime.InteropServices;
using Inkwell.Engine.KvCache;
using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Engine.Scheduling;

namespace Inkwell.Engine.Speculation;

/// <summary>The engine's per-row stages the verifier runs for each verified position, in the same order as plain decoding.</summary>
internal interface ISpeculationHost
{
    /// <summary>A copy of the row after the request's logits processors, as they see the sequence's first <paramref name="length"/> tokens.</summary>
    Span<float> ProcessRow(EngineRequest r, ReadOnlySpan<float> row, int length);

    /// <summary>Observers, finish checks and the output event for the token at <paramref name="position"/>; true when the request finished.</summary>
    bool Emit(EngineRequest r, ReadOnlySpan<float> logits, int token, float logProb, int position);
}

/// <summary>
/// Speculative decoding inside the engine step. Before scheduling, <see cref="Propose"/> asks the drafter for up to
/// N tokens per decoding request and appends them to the request, so the scheduler gives it 1 + N tokens to compute
/// (one chunk through the paged KV cache, all rows' logits); <see cref="FitToPlan"/> drops drafts the plan does not
/// cover. After the forward pass, <see cref="Verify"/> walks the rows in order: each row goes through the request's
/// processors with exactly the accepted tokens before it, then the greedy arg-max must equal the draft, or (sampling)
/// the draft passes rejection sampling against the processed, warped distribution; the first mismatch emits the
/// target's token instead, and when every draft holds the last row gives one more. Rejected positions are rolled back:
/// the computed count stops at the accepted point, blocks past the sequence are freed, and only full blocks of
/// accepted tokens are registered for prefix reuse. Greedy output is thus the target's own, token for token, and
/// sampled output follows the target's distribution after every processor (grammar masks and penalties included,
/// since each position sees the same state as plain decoding would).
/// </summary>
internal sealed class Speculator(IDrafter drafter, int maxDraftTokens, KvCacheManager cache, int contextLength, int vocabSize, EngineStats stats)
{
    private readonly Sampler _sampler = new();
    private readonly List<DraftSlot> _slots = [];
    private readonly float[] _target = new float[vocabSize];
    private readonly float[] _residual = new float[vocabSize];
    private long _step;

    public IDrafter Drafter => drafter;

    public static bool HasDraft(EngineRequest r) => r.Draft is { Count: > 0 };

    /// <summary>Drafts for every running request that is decoding (one known token left to compute).</summary>
    public void Propose(IReadOnlyList<EngineRequest> running)
    {
        _slots.Clear();
        // Drafts use only blocks nobody else needs this step: keep one per running request for its real token.
        int spareBlocks = cache.Pool.FreeBlockCount - running.Count;
        int blockSize = cache.BlockSize;
        for (int i = 0; i < running.Count; i++)  // indexed: no enumerator per step
        {
            var r = running[i];
            if (r.NumTokensToCompute != 1 || r.GeneratedCount == 0 || !drafter.CanDraft(r)) continue;
            // Never more than max_new_tokens (the last verified row adds one) nor past the context.
            int k = Math.Min(maxDraftTokens, r.Request.Stopping.MaxNewTokens - r.GeneratedCount - 1);
            k = Math.Min(k, contextLength - r.Tokens.Count);
            if (k <= 0) continue;
            int extra = (r.Tokens.Count + k + blockSize - 1) / blockSize - Math.Max(r.Blocks.Count, (r.Tokens.Count + blockSize - 1) / blockSize);
            if (extra > spareBlocks) continue;
            spareBlocks -= Math.Max(0, extra);
            r.Draft ??= new DraftState(maxDraftTokens);
            r.Draft.Count = 0;
            _slots.Add(new DraftSlot(r, k));
        }
        if (_slots.Count == 0) return;
        try
        {
            drafter.Propose(CollectionsMarshal.AsSpan(_slots));
        }
        catch (Exception)
        {
            // Drafts only save time: a drafter that throws (e.g. its draft model's pass) leaves this step to plain
            // decoding, its view of each request rolled back to the accepted tokens.
            foreach (var slot in _slots)
            {
                slot.Request.Draft!.Count = 0;
                drafter.Rollback(slot.Request, slot.Request.Tokens.Count);
            }
            _slots.Clear();
            stats.SpecDraftFailures++;
            return;
        }
        foreach (var slot in _slots)
        {
            var d = slot.Request.Draft!;
            slot.Request.Tokens.AddRange(d.Tokens.AsSpan(0, d.Count));
        }
    }

    /// <summary>Keeps only the drafts the plan computes (the budget may cut a chunk short or leave a request out).</summary>
    public void FitToPlan(SchedulerOutput plan)
    {
        if (_slots.Count == 0) return;
        long step = ++_step;
        foreach (var c in plan.Chunks)
        {
            if (c.Request.Draft is not { Count: > 0 } d) continue;
            d.PlannedStep = step;
            int covered = c.StartPosition + c.Count - (c.Request.Tokens.Count - d.Count);
            if (covered < d.Count) Drop(c.Request, d.Count - covered);
        }
        foreach (var slot in _slots)
            if (slot.Request.Draft is { Count: > 0 } d && d.PlannedStep != step) Drop(slot.Request, d.Count);
        _slots.Clear();
    }

    private void Drop(EngineRequest r, int count)
    {
        var d = r.Draft!;
        r.Tokens.RemoveRange(r.Tokens.Count - count, count);
        d.Count -= count;
        drafter.Rollback(r, r.Tokens.Count - d.Count);
    }

    /// <summary>
    /// Verifies a request's drafts against its logits rows (row j predicts the token after the j-th draft), emits the
    /// accepted tokens and one from the target, and rolls back the rest.
    /// </summary>
    public void Verify(EngineRequest r, ReadOnlySpan<float> rows, ISpeculationHost host)
    {
        var d = r.Draft!;
        int k = d.Count;
        int accepted = r.Tokens.Count - k;  // tokens final before this step; the first row is the last of them
        var sampling = r.Request.Sampling;
        int kept = 0;
        bool finished = false;
        // Counted before the tokens are emitted, so a reader that saw the last token sees the counts too.
        stats.SpecDraftedTokens += k;
        for (int j = 0; j <= k && !finished; j++)
        {
            int position = accepted + j;
            var logits = host.ProcessRow(r, rows.Slice(j * vocabSize, vocabSize), position);
            int draft = j < k ? d.Tokens[j] : -1;
            int token;
            float logProb;
            if (!sampling.IsSampling)
            {
                (token, logProb) = _sampler.Sample(logits, sampling, ref r.Rng);
            }
            else
            {
                var p = _target.AsSpan();
                _sampler.Distribution(logits, sampling, p);
                ReadOnlySpan<float> q = d.Sampled && draft >= 0 ? d.Distribution(j, vocabSize) : default;
                token = draft < 0 ? Sampler.Draw(p, ref r.Rng)
                    : RejectionSampler.Accept(p, q, draft, ref r.Rng) ? draft
                    : RejectionSampler.Resample(p, q, draft, _residual, ref r.Rng);
                logProb = MathF.Log(p[token]);
            }
            bool isDraft = token == draft;
            if (isDraft)
            {
                kept++;
                stats.SpecAcceptedTokens++;
            }
            else
            {
                r.Tokens.RemoveRange(position, r.Tokens.Count - position);
                r.Tokens.Add(token);
            }
            // Rows before this position hold accepted tokens only: their KV stays and their full blocks may be shared.
            r.NumComputedTokens = position;
            cache.RegisterFullBlocks(r);
            finished = host.Emit(r, logits, token, logProb, position);
            if (!isDraft) break;
        }
        d.Count = 0;
        if (finished) return;  // the engine removed the request: its blocks and draft state are gone
        // The rejected drafts' slots past the sequence return to the pool (their KV is garbage, never registered).
        cache.TrimBlocks(r, r.Tokens.Count);
        drafter.Rollback(r, accepted + kept);
    }
}
