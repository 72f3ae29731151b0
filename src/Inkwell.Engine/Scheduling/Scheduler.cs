using Inkwell.Engine.KvCache;
using Inkwell.Engine.Requests;

namespace Inkwell.Engine.Scheduling;

public sealed record SchedulerOptions
{
    /// <summary>Most tokens one step computes (decode tokens and prefill chunks together): TGI's max_batch_prefill_tokens.</summary>
    public int MaxBatchTokens { get; init; } = 4096;
    /// <summary>Most requests running at once.</summary>
    public int MaxRunningRequests { get; init; } = 256;
    /// <summary>Split long prompts into chunks that fit the step budget beside running decodes.</summary>
    public bool ChunkedPrefill { get; init; } = true;
}

/// <summary>One sequence's work in a step: compute Count tokens starting at StartPosition.</summary>
public readonly record struct ScheduledChunk(EngineRequest Request, int StartPosition, int Count);

/// <summary>What a step runs: an immutable plan, plus who was preempted to make room.</summary>
public sealed record SchedulerOutput(IReadOnlyList<ScheduledChunk> Chunks, IReadOnlyList<EngineRequest> Preempted, IReadOnlyList<EngineRequest> Admitted)
{
    public int TokenCount { get; } = SumCounts(Chunks);
    public bool IsEmpty => Chunks.Count == 0;

    private static int SumCounts(IReadOnlyList<ScheduledChunk> chunks)
    {
        int sum = 0;
        for (int i = 0; i < chunks.Count; i++) sum += chunks[i].Count;
        return sum;
    }
}

/// <summary>
/// vLLM v1-style scheduler: it only hands out a token budget. Running requests go first (a decode token each, or the
/// next chunk of an unfinished prefill); when the cache cannot hold them, the newest running request is preempted
/// (its blocks freed, to be recomputed later). Waiting requests are admitted in arrival order while budget and
/// blocks last. It holds the queues but no model state.
/// </summary>
public sealed class Scheduler(SchedulerOptions options, KvCacheManager cache)
{
    private readonly LinkedList<EngineRequest> _waiting = new();
    private readonly List<EngineRequest> _running = [];
    // Reused while building a plan; the plan itself gets exact-size copies (empty lists share one empty array).
    private readonly List<ScheduledChunk> _chunks = [];
    private readonly List<EngineRequest> _preempted = [], _admitted = [];
    private long _step;

    public SchedulerOptions Options { get; } = options;
    public IReadOnlyCollection<EngineRequest> Waiting => _waiting;
    public IReadOnlyList<EngineRequest> Running => _running;
    public int WaitingTokenCount => _waiting.Sum(r => r.NumTokensToCompute);

    public void Add(EngineRequest r)
    {
        r.Status = RequestStatus.Waiting;
        _waiting.AddLast(r);
    }

    /// <summary>Removes a request wherever it is and frees its blocks (finished, cancelled or failed).</summary>
    public void Remove(EngineRequest r)
    {
        if (r.Status == RequestStatus.Running) _running.Remove(r);
        else if (r.Status == RequestStatus.Waiting) _waiting.Remove(r);
        cache.Free(r);
        r.Status = RequestStatus.Finished;
    }

    public SchedulerOutput Schedule()
    {
        int budget = Options.MaxBatchTokens;
        var chunks = _chunks;
        var preempted = _preempted;
        var admitted = _admitted;
        chunks.Clear();
        preempted.Clear();
        admitted.Clear();
        long step = ++_step; // a request is in this step's plan when its ScheduledStep equals step

        // 1. Running requests, oldest first.
        for (int i = 0; i < _running.Count && budget > 0; i++)
        {
            var r = _running[i];
            int count = Math.Min(r.NumTokensToCompute, budget);
            if (count <= 0) continue;
            while (!cache.Allocate(r, count))
            {
                // Preempt the newest running request that is not already in this step's plan.
                var victim = NewestUnscheduled(step);
                if (victim is null) break;
                Preempt(victim);
                preempted.Add(victim);
                if (victim == r) break;
            }
            if (r.Status != RequestStatus.Running) { i--; continue; } // r itself was preempted; the list shrank
            if (r.Blocks.Count * cache.BlockSize < r.NumComputedTokens + count) continue; // could not allocate
            chunks.Add(new ScheduledChunk(r, r.NumComputedTokens, count));
            r.ScheduledStep = step;
            budget -= count;
        }

        // 2. Waiting requests, in arrival order, unless this step had to preempt (the cache is full).
        while (preempted.Count == 0 && budget > 0 && _waiting.First is { } node && _running.Count < Options.MaxRunningRequests)
        {
            var r = node.Value;
            if (r.Blocks.Count == 0) cache.TakeCachedPrefix(r);
            int count = r.NumTokensToCompute;
            if (count > budget)
            {
                if (!Options.ChunkedPrefill && chunks.Count > 0) break;
                count = budget;
            }
            if (!cache.Allocate(r, count))
            {
                // Keep its cached prefix blocks for later? No: release them so the pool can evict under pressure.
                cache.Free(r);
                break;
            }
            _waiting.RemoveFirst();
            r.Status = RequestStatus.Running;
            _running.Add(r);
            admitted.Add(r);
            chunks.Add(new ScheduledChunk(r, r.NumComputedTokens, count));
            r.ScheduledStep = step;
            budget -= count;
        }
        return new SchedulerOutput(chunks.ToArray(), preempted.ToArray(), admitted.ToArray());
    }

    private EngineRequest? NewestUnscheduled(long step)
    {
        for (int i = _running.Count - 1; i >= 0; i--)
            if (_running[i].ScheduledStep != step) return _running[i];
        return null;
    }

    private void Preempt(EngineRequest r)
    {
        _running.Remove(r);
        cache.Free(r);
        r.PreemptionCount++;
        r.Status = RequestStatus.Waiting;
        _waiting.AddFirst(r);
    }
}
