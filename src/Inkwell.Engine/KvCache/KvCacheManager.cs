using Inkwell.Engine.Requests;

namespace Inkwell.Engine.KvCache;

/// <summary>
/// Gives requests KV blocks (vLLM v1's KVCacheManager): finds the longest cached prefix of full blocks, allocates
/// slots for new tokens or says no, registers blocks as they fill, and frees a request's blocks.
/// <paramref name="copyBlock"/> copies a block's KV contents (from, to); with it, a prompt that is entirely cached
/// recomputes only its last token, in a private copy of its last block (copy-on-write).
/// </summary>
public sealed class KvCacheManager(BlockPool pool, Action<int, int>? copyBlock = null)
{
    public BlockPool Pool { get; } = pool;
    public int BlockSize => Pool.BlockSize;

    /// <summary>
    /// For a request with no blocks yet: takes cached blocks for the longest computed prefix, leaving at least one
    /// token to compute (its logits are needed). Returns the number of tokens reused.
    /// </summary>
    /// <remarks>
    /// When every token sits in cached full blocks, the last token must still be computed, and its KV written, but
    /// not into a block others share: that block is copied into a fresh one first. Without a copier (or a free
    /// block) the last full block is recomputed instead, as vLLM does.
    /// </remarks>
    public int TakeCachedPrefix(EngineRequest r)
    {
        // Prompt log-probabilities need every prompt row computed, so such requests do not reuse a prefix.
        if (r.Blocks.Count != 0 || !Pool.PrefixCaching || r.Request.PrefillLogProbs) return 0;
        var tokens = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.Tokens);
        int fullBlocks = (copyBlock is null ? tokens.Length - 1 : tokens.Length) / BlockSize;
        r.Prefix = Pool.TakeCachedPrefix(tokens[..(fullBlocks * BlockSize)], r.CacheSalt, r.Blocks);
        r.NumComputedTokens = r.Blocks.Count * BlockSize;
        if (r.NumComputedTokens == tokens.Length)
        {
            // The whole sequence is cached: keep all but the last token, in a private copy of the last block.
            int shared = r.Blocks[^1];
            if (Pool.Allocate(1) is [int copy])
            {
                copyBlock!(shared, copy);
                r.Blocks[^1] = copy;
                r.NumComputedTokens = tokens.Length - 1;
            }
            else
            {
                r.Blocks.RemoveAt(r.Blocks.Count - 1);
                r.NumComputedTokens = r.Blocks.Count * BlockSize;
            }
            Pool.Free([shared]);
            int hashed = r.Blocks.Count == 0 ? 0 : r.NumComputedTokens / BlockSize;
            r.Prefix = new PrefixChain(hashed, BlockHash.OfBlocks(tokens[..(hashed * BlockSize)], BlockSize, r.CacheSalt));
        }
        return r.NumComputedTokens;
    }

    /// <summary>Makes room for the request's next <paramref name="newTokens"/> tokens; false (nothing taken) if the pool is short.</summary>
    public bool Allocate(EngineRequest r, int newTokens)
    {
        int needed = (r.NumComputedTokens + newTokens + BlockSize - 1) / BlockSize - r.Blocks.Count;
        if (needed <= 0) return true;
        var blocks = Pool.Allocate(needed);
        if (blocks is null) return false;
        r.Blocks.AddRange(blocks);
        return true;
    }

    /// <summary>After a step: registers the request's newly filled blocks under their prefix hashes.</summary>
    public void RegisterFullBlocks(EngineRequest r)
    {
        Pool.MarkFullBlocks(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.Tokens),
            System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.Blocks), r.NumComputedTokens, r.CacheSalt, ref r.Prefix);
    }

    /// <summary>Frees the request's blocks past those its first <paramref name="tokens"/> positions need (rejected draft tokens).</summary>
    public void TrimBlocks(EngineRequest r, int tokens)
    {
        int keep = (tokens + BlockSize - 1) / BlockSize;
        if (r.Blocks.Count <= keep) return;
        Pool.Free(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.Blocks)[keep..]);
        r.Blocks.RemoveRange(keep, r.Blocks.Count - keep);
    }

    public void Free(EngineRequest r)
    {
        Pool.Free(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(r.Blocks));
        r.Blocks.Clear();
        r.Prefix = default;
        r.NumComputedTokens = 0;
    }
}
