using Inkwell.Engine.KvCache;

namespace Inkwell.Engine.Tests.KvCache;

public class BlockPoolTests
{
    [Fact]
    public void Allocate_takes_distinct_blocks_and_refuses_when_short()
    {
        var pool = new BlockPool(4, 16);
        var a = pool.Allocate(3)!;
        Assert.Equal(3, a.Distinct().Count());
        Assert.Equal(1, pool.FreeBlockCount);
        Assert.Null(pool.Allocate(2));
        Assert.Equal(1, pool.FreeBlockCount);
        pool.Free(a);
        Assert.Equal(4, pool.FreeBlockCount);
    }

    [Fact]
    public void Cached_block_is_shared_by_reference_count_and_survives_free_until_evicted()
    {
        var pool = new BlockPool(2, 4);
        var hash = BlockHash.Of(null, [1, 2, 3, 4]);
        var first = pool.Allocate(1)!;
        pool.MarkComputed(first[0], hash);

        Assert.Equal(first[0], pool.TakeCached(hash));
        Assert.Equal(2, pool.RefCount(first[0]));
        pool.Free(first);
        pool.Free(first);
        Assert.Equal(2, pool.FreeBlockCount);

        // Freed but still cached: a new request can take it back.
        Assert.Equal(first[0], pool.TakeCached(hash));
        pool.Free(first);

        // Allocating everything evicts it; afterwards the hash is gone.
        var all = pool.Allocate(2)!;
        Assert.Null(pool.TakeCached(hash));
        pool.Free(all);
    }

    [Fact]
    public void Uncached_free_blocks_are_reused_before_cached_ones()
    {
        var pool = new BlockPool(2, 4);
        var blocks = pool.Allocate(2)!;
        var hash = BlockHash.Of(null, [7, 7, 7, 7]);
        pool.MarkComputed(blocks[0], hash);
        pool.Free(blocks);
        var next = pool.Allocate(1)!;
        Assert.Equal(blocks[1], next[0]);
        Assert.Equal(blocks[0], pool.TakeCached(hash));
    }

    [Fact]
    public void Double_free_is_an_error()
    {
        var pool = new BlockPool(2, 4);
        var b = pool.Allocate(1)!;
        pool.Free(b);
        Assert.Throws<InvalidOperationException>(() => pool.Free(b));
    }

    [Fact]
    public void Prefix_caching_off_never_hits()
    {
        var pool = new BlockPool(2, 4, prefixCaching: false);
        var b = pool.Allocate(1)!;
        var hash = BlockHash.Of(null, [1, 2, 3, 4]);
        pool.MarkComputed(b[0], hash);
        Assert.Null(pool.TakeCached(hash));
    }

    [Fact]
    public void Hash_depends_on_parent_tokens_and_salt()
    {
        var a = BlockHash.Of(null, [1, 2]);
        Assert.Equal(a, BlockHash.Of(null, [1, 2]));
        Assert.NotEqual(a, BlockHash.Of(null, [2, 1]));
        Assert.NotEqual(BlockHash.Of(a, [3, 4]), BlockHash.Of(BlockHash.Of(null, [9, 9]), [3, 4]));
        Assert.NotEqual(a, BlockHash.Of(null, [1, 2], salt: 42));
    }
}
