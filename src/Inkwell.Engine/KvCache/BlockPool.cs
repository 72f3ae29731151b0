namespace Inkwell.Engine.KvCache;

/// <summary>
/// Owns every KV block: reference counts, the free queue and the prefix-hash map (vLLM v1's BlockPool).
/// A full block that held a computed prefix keeps its hash when freed and sits in the free queue, evictable in
/// least-recently-freed order, so a later request with the same prefix can take it back instead of recomputing.
/// Engine-thread only.
/// </summary>
public sealed class BlockPool
{
    private readonly int[] _refCounts;
    private readonly BlockHash?[] _hashes;
    private readonly LinkedList<int> _free = new();
    private readonly LinkedListNode<int>?[] _freeNodes;
    private readonly Dictionary<BlockHash, int> _cached = new();

    public BlockPool(int blockCount, int blockSize, bool prefixCaching = true)
    {
        if (blockCount <= 0 || blockSize <= 0) throw new ArgumentOutOfRangeException(nameof(blockCount), "a block pool needs blocks of at least one slot");
        BlockCount = blockCount;
        BlockSize = blockSize;
        PrefixCaching = prefixCaching;
        _refCounts = new int[blockCount];
        _hashes = new BlockHash?[blockCount];
        _freeNodes = new LinkedListNode<int>?[blockCount];
        for (int i = 0; i < blockCount; i++) _freeNodes[i] = _free.AddLast(i);
    }

    public int BlockCount { get; }
    public int BlockSize { get; }
    public bool PrefixCaching { get; }
    public int FreeBlockCount => _free.Count;
    public long PrefixHits { get; private set; }
    public long PrefixQueries { get; private set; }

    /// <summary>Takes n blocks (evicting cached prefixes as needed), or null without side effects if too few are free.</summary>
    public int[]? Allocate(int n)
    {
        if (n > _free.Count) return null;
        var blocks = new int[n];
        for (int i = 0; i < n; i++)
        {
            int b = _free.First!.Value;
            RemoveFromFree(b);
            if (_hashes[b] is { } h)
            {
                _cached.Remove(h);
                _hashes[b] = null;
            }
            _refCounts[b] = 1;
            blocks[i] = b;
        }
        return blocks;
    }

    /// <summary>Looks up a computed block by its prefix hash and takes a reference to it.</summary>
    public int? TakeCached(BlockHash hash)
    {
        PrefixQueries++;
        if (!PrefixCaching || !_cached.TryGetValue(hash, out int b)) return null;
        PrefixHits++;
        if (_refCounts[b]++ == 0) RemoveFromFree(b);
        return b;
    }

    /// <summary>
    /// Takes the cached blocks that hold the leading full blocks of <paramref name="tokens"/> (a sequence's first
    /// tokens, whole blocks of them), in order, appending them to <paramref name="blocks"/> (empty) until one is
    /// missing. Returns the chain of the blocks taken: all of them are registered already.
    /// </summary>
    public PrefixChain TakeCachedPrefix(ReadOnlySpan<int> tokens, ulong salt, List<int> blocks)
    {
        var chain = default(PrefixChain);
        for (int i = 0; i + BlockSize <= tokens.Length; i += BlockSize)
        {
            var hash = BlockHash.Of(chain.Last, tokens.Slice(i, BlockSize), salt);
            if (TakeCached(hash) is not int block) break;
            blocks.Add(block);
            chain = new PrefixChain(chain.HashedBlocks + 1, hash);
        }
        return chain;
    }

    /// <summary>
    /// Registers a sequence's blocks that its first <paramref name="computed"/> tokens now fill, from where
    /// <paramref name="chain"/> stands (advanced here).
    /// </summary>
    public void MarkFullBlocks(ReadOnlySpan<int> tokens, ReadOnlySpan<int> blocks, int computed, ulong salt, ref PrefixChain chain)
    {
        if (!PrefixCaching) return;
        for (int i = chain.HashedBlocks; i < computed / BlockSize; i++)
        {
            var hash = BlockHash.Of(chain.Last, tokens.Slice(i * BlockSize, BlockSize), salt);
            MarkComputed(blocks[i], hash);
            chain = new PrefixChain(i + 1, hash);
        }
    }

    /// <summary>Records that a full block now holds the prefix identified by hash, so others can share it.</summary>
    public void MarkComputed(int block, BlockHash hash)
    {
        if (!PrefixCaching || _hashes[block] is not null) return;
        if (_cached.TryAdd(hash, block)) _hashes[block] = hash;
    }

    /// <summary>Drops one reference to each block; blocks nobody holds return to the free queue.</summary>
    public void Free(ReadOnlySpan<int> blocks)
    {
        // Free in reverse so a sequence's tail blocks are evicted before its head (the head is likelier shared).
        for (int i = blocks.Length - 1; i >= 0; i--)
        {
            int b = blocks[i];
            if (_refCounts[b] <= 0) throw new InvalidOperationException($"block {b} freed more often than it was taken");
            if (--_refCounts[b] == 0) _freeNodes[b] = _hashes[b] is null ? _free.AddFirst(b) : _free.AddLast(b);
        }
    }

    public int RefCount(int block) => _refCounts[block];

    private void RemoveFromFree(int b)
    {
        _free.Remove(_freeNodes[b]!);
        _freeNodes[b] = null;
    }
}

/// <summary>
/// How far a sequence's full blocks are registered for prefix reuse: the leading <paramref name="HashedBlocks"/> blocks,
/// the last of them identified by <paramref name="Last"/> (null when none), from which the next block's hash chains.
/// </summary>
public readonly record struct PrefixChain(int HashedBlocks, BlockHash? Last);

/// <summary>
/// Identifies a full block by its tokens and everything before it (a chained 64-bit hash; first/last token and count
/// ride along as a cheap extra check). The salt separates prefixes that share tokens but not meaning (a soft prompt).
/// </summary>
public readonly record struct BlockHash(ulong Chain, int First, int Last, int Count)
{
    /// <summary>The prefix hash of the whole blocks of <paramref name="tokens"/> (null: not one whole block).</summary>
    public static BlockHash? OfBlocks(ReadOnlySpan<int> tokens, int blockSize, ulong salt = 0)
    {
        BlockHash? hash = null;
        for (int i = 0; i + blockSize <= tokens.Length; i += blockSize) hash = Of(hash, tokens.Slice(i, blockSize), salt);
        return hash;
    }

    public static BlockHash Of(BlockHash? parent, ReadOnlySpan<int> tokens, ulong salt = 0)
    {
        ulong h = parent?.Chain ?? (0xcbf29ce484222325UL ^ salt);
        foreach (int t in tokens)
        {
            h ^= (uint)t;
            h *= 0x100000001b3UL;
            h ^= h >> 29;
        }
        h ^= (ulong)tokens.Length * 0x9E3779B97F4A7C15UL;
        return new BlockHash(h, tokens.IsEmpty ? 0 : tokens[0], tokens.IsEmpty ? 0 : tokens[^1], tokens.Length);
    }
}
