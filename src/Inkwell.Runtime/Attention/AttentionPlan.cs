namespace Inkwell.Runtime.Attention;

/// <summary>Which attention kernel handles tiles of many query lanes (tests pin one; the model uses Auto).</summary>
public enum AttentionKernel
{
    /// <summary>The widest lane kernel the hardware accelerates, else per-row.</summary>
    Auto,
    /// <summary>Every (row, head) on its own with the portable per-row kernel.</summary>
    Rows,
    /// <summary>Tiles 8 lanes wide; items of few lanes run per row with 8-wide vectors along the head.</summary>
    Lanes8,
    /// <summary>Tiles 16 lanes wide; items of few lanes run per row with 16- (or 8-) wide vectors along the head.</summary>
    Lanes16,
}

/// <summary>
/// How one forward pass's attention is cut into work items, built once per pass and reused by every layer.
/// An item is (chunk, KV head, a run of consecutive query lanes), where lane j of a chunk is query head j % G of row
/// j / G (G = query heads per KV head): all query heads that share a KV head, over a tile of consecutive rows.
/// </summary>
public sealed class AttentionPlan
{
    public const int ItemInts = 4;   // chunk, KV head, first lane, lane count
    public const int ChunkInts = 3;  // first row in the batch, start position, offset of its block table in Tables

    internal int[] Items = [], ChunkInfo = [], Tables = [];
    internal int ItemCount;
    /// <summary>Query lanes per tile (the vector width of the lane kernel), or 1 when every row runs on its own.</summary>
    internal int Lanes = 1;

    private int _groupSize, _kvHeads, _chunks, _tableInts, _rows;

    /// <summary>Starts a plan for a new pass; <see cref="Add"/> then appends its chunks in batch order.</summary>
    public void Reset(AttentionShape shape, AttentionKernel kernel = AttentionKernel.Auto)
    {
        Lanes = PagedAttention.LanesOf(kernel, shape.HeadDim);
        _groupSize = shape.GroupSize;
        _kvHeads = shape.KvHeadCount;
        ItemCount = _chunks = _tableInts = _rows = 0;
    }

    /// <summary>Appends a chunk of <paramref name="rows"/> query rows at positions from <paramref name="startPosition"/> on.</summary>
    public void Add(int rows, int startPosition, ReadOnlySpan<int> blockTable)
    {
        int ci = _chunks++;
        Grow(ref ChunkInfo, _chunks * ChunkInts);
        Grow(ref Tables, _tableInts + blockTable.Length);
        ChunkInfo[ci * ChunkInts] = _rows;
        ChunkInfo[ci * ChunkInts + 1] = startPosition;
        ChunkInfo[ci * ChunkInts + 2] = _tableInts;
        blockTable.CopyTo(Tables.AsSpan(_tableInts));
        _rows += rows;
        _tableInts += blockTable.Length;

        // Last tiles first: causal rows further on attend to more keys, and the pool hands out contiguous ranges
        // in order, so costly items go out first and the cheap ones even out the end.
        int lanes = rows * _groupSize;
        int n = ItemCount;
        Grow(ref Items, (n + _kvHeads * TileCount(lanes)) * ItemInts);
        for (int tile = TileCount(lanes) - 1; tile >= 0; tile--)
        {
            int first = tile * Lanes;
            for (int h = 0; h < _kvHeads; h++, n++)
            {
                Items[n * ItemInts] = ci;
                Items[n * ItemInts + 1] = h;
                Items[n * ItemInts + 2] = first;
                Items[n * ItemInts + 3] = Math.Min(Lanes, lanes - first);
            }
        }
        ItemCount = n;
    }

    // One row per item in the row kernel's case keeps decode as finely split as before.
    private int TileCount(int lanes) => Lanes == 1 ? lanes : (lanes + Lanes - 1) / Lanes;

    private static void Grow(ref int[] a, int n)
    {
        if (a.Length < n) Array.Resize(ref a, Math.Max(n, a.Length * 2));
    }
}
