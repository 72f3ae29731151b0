using System.Numerics.Tensors;
using System.Runtime.InteropServices;
using Inkwell.Engine.KvCache;
using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Models;
using Inkwell.Models.Kv;

namespace Inkwell.Engine.Speculation;

/// <summary>
/// Drafts with a smaller model over the same vocabulary (llama-server's --model-draft): per request it keeps the
/// draft model's own paged KV, catches it up on the tokens accepted since last time, then decodes the draft tokens
/// one at a time. All drafting requests share each draft forward pass. Greedy requests draft the arg-max (a point
/// mass); sampling requests draw from the draft's distribution under the request's temperature and top-k/p/typical-p,
/// and keep that distribution for the rejection test. Engine thread only.
/// <para>
/// The draft cache reuses prefixes as the target's does (full blocks of accepted tokens, by prefix hash): with the
/// target's prompt prefix cached, a draft model that recomputed a shared system prompt for every request would make
/// that the largest part of the time to first token.
/// </para>
/// </summary>
public sealed class DraftModelDrafter : IDrafter
{
    private readonly ICausalLM _model;
    private readonly KvCacheStorage _kv;
    private readonly BlockPool _pool;
    private readonly Sampler _sampler = new();
    private readonly List<SequenceChunk> _chunks = [];
    private readonly List<int> _chunkSlots = [];
    private int[] _tokenStage = new int[256];
    private int[] _blockStage = new int[256];

    /// <param name="capacityTokens">Token slots of the draft model's KV cache, shared by all requests.</param>
    /// <param name="prefixCaching">Whether requests share the draft KV of common prefixes (as the engine's option).</param>
    public DraftModelDrafter(ICausalLM draftModel, int blockSize, int capacityTokens, bool prefixCaching = true)
    {
        _model = draftModel;
        int blocks = Math.Max(1, (capacityTokens + blockSize - 1) / blockSize);
        _kv = draftModel.CreateKvCache(blockSize, blocks);
        _pool = new BlockPool(blocks, blockSize, prefixCaching);
    }

    /// <summary>Free blocks of the draft model's cache (all of them once every request has finished).</summary>
    public BlockPool Pool => _pool;

    /// <summary>A soft prompt is embeddings of the target's width; the draft model has nothing to read for those rows.</summary>
    public bool CanDraft(EngineRequest request) => request.Request.PrefixEmbeddings is null;

    public void Propose(ReadOnlySpan<DraftSlot> slots)
    {
        int vocab = _model.Config.VocabSize;
        int rounds = 0;
        foreach (var slot in slots) rounds = Math.Max(rounds, slot.MaxTokens);
        for (int round = 0; round < rounds; round++)
        {
            // Round 0 catches each sequence up on its accepted tokens and drafts one; later rounds feed the last draft.
            _chunks.Clear();
            _chunkSlots.Clear();
            int tokenAt = 0, blockAt = 0;
            for (int i = 0; i < slots.Length; i++)
            {
                var r = slots[i].Request;
                var draft = r.Draft!;
                if (round == 0) draft.Count = 0;
                if (round != draft.Count || round >= slots[i].MaxTokens) continue;
                var seq = round == 0 ? Prepare(r, slots[i].MaxTokens) : draft.Sequence;
                if (seq is null) continue;
                var accepted = CollectionsMarshal.AsSpan(r.Tokens);
                int start = seq.Computed, count = round == 0 ? accepted.Length - start : 1;
                Stage(ref _tokenStage, tokenAt, count);
                var tokens = _tokenStage.AsSpan(tokenAt, count);
                if (round == 0) accepted[start..].CopyTo(tokens);
                else tokens[0] = draft.Tokens[round - 1];
                Stage(ref _blockStage, blockAt, seq.Blocks.Count);
                CollectionsMarshal.AsSpan(seq.Blocks).CopyTo(_blockStage.AsSpan(blockAt));
                _chunks.Add(new SequenceChunk(_tokenStage.AsMemory(tokenAt, count), start, _blockStage.AsMemory(blockAt, seq.Blocks.Count)));
                _chunkSlots.Add(i);
                tokenAt += count;
                blockAt += seq.Blocks.Count;
            }
            if (_chunks.Count == 0) break;
            var logits = _model.Forward(CollectionsMarshal.AsSpan(_chunks), _kv);
            for (int c = 0; c < _chunks.Count; c++)
            {
                var r = slots[_chunkSlots[c]].Request;
                var draft = r.Draft!;
                var seq = draft.Sequence!;
                seq.Computed = _chunks[c].StartPosition + _chunks[c].Count;
                // Round 0 computed accepted tokens only; later rounds' KV is of drafts, never shared.
                if (round == 0)
                    _pool.MarkFullBlocks(CollectionsMarshal.AsSpan(r.Tokens), CollectionsMarshal.AsSpan(seq.Blocks), seq.Computed, r.CacheSalt, ref seq.Prefix);
                draft.Tokens[round] = Pick(r, logits.Slice(c * vocab, vocab), round);
                draft.Count = round + 1;
            }
        }
    }

    /// <summary>The request's draft sequence with blocks for its next draft positions; null when the cache is short.</summary>
    private DraftSequence? Prepare(EngineRequest r, int maxTokens)
    {
        var draft = r.Draft!;
        draft.Sampled = r.Request.Sampling.IsSampling;
        var seq = draft.Sequence;
        if (seq is null)
        {
            // A new sequence starts from the draft KV of its longest cached prefix, leaving at least the last
            // accepted token to compute (its logits give the first draft).
            seq = draft.Sequence = new DraftSequence();
            var accepted = CollectionsMarshal.AsSpan(r.Tokens);
            seq.Prefix = _pool.TakeCachedPrefix(accepted[..((accepted.Length - 1) / _pool.BlockSize * _pool.BlockSize)], r.CacheSalt, seq.Blocks);
            seq.Computed = seq.Blocks.Count * _pool.BlockSize;
        }
        // Drafting k tokens computes positions up to length + k - 2; the blocks must cover them.
        int positions = r.Tokens.Count + maxTokens - 1;
        if (positions > _model.Config.ContextLength) return null;
        int needed = (positions + _pool.BlockSize - 1) / _pool.BlockSize - seq.Blocks.Count;
        if (needed > 0)
        {
            if (_pool.Allocate(needed) is not { } blocks) return null;
            seq.Blocks.AddRange(blocks);
        }
        return seq;
    }

    private int Pick(EngineRequest r, ReadOnlySpan<float> row, int index)
    {
        var sampling = r.Request.Sampling;
        if (!sampling.IsSampling) return TensorPrimitives.IndexOfMax(row);
        var q = r.Draft!.Distribution(index, row.Length);
        _sampler.Distribution(row, sampling, q);
        return Sampler.Draw(q, ref r.Rng);
    }

    public void Rollback(EngineRequest request, int validTokens)
    {
        if (request.Draft?.Sequence is { } seq) seq.Computed = Math.Min(seq.Computed, validTokens);
    }

    public void Release(EngineRequest request)
    {
        if (request.Draft?.Sequence is not { } seq) return;
        _pool.Free(CollectionsMarshal.AsSpan(seq.Blocks));
        request.Draft.Sequence = null;
    }

    private static void Stage(ref int[] stage, int at, int count)
    {
        if (stage.Length < at + count) Array.Resize(ref stage, Math.Max(at + count, stage.Length * 2));
    }
}
