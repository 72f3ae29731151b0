namespace Inkwell.Models.Llama;

/// <summary>Which attention kernel handles tiles of many query lanes (tests pin one; the model uses Auto).</summary>
internal enum AttentionKernel
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
internal sealed class AttentionPlan
{
    public const int ItemInts = 4;   // chunk, KV head, first lane, lane count
    public const int ChunkInts = 3;  // first row in the batch, start position, offset of its block table in Tables

    public int[] Items = [], ChunkInfo = [], Tables = [];
    public int ItemCount;
    /// <summary>Query lanes per tile (the vector width of the lane kernel), or 1 when every row runs on its own.</summary>
    public int Lanes = 1;

    public void Build(ReadOnlySpan<SequenceChunk> chunks, LlamaConfig c, AttentionKernel kernel = AttentionKernel.Auto)
    {
        Lanes = Attention.LanesOf(kernel, c);
        int group = c.HeadCount / c.KvHeadCount;
        int items = 0, tableInts = 0;
        foreach (var chunk in chunks)
        {
            items += c.KvHeadCount * TileCount(chunk.Count * group);
            tableInts += chunk.BlockTable.Length;
        }
        Grow(ref Items, items * ItemInts);
        Grow(ref ChunkInfo, chunks.Length * ChunkInts);
        Grow(ref Tables, tableInts);

        int n = 0, row = 0, offset = 0;
        for (int ci = 0; ci < chunks.Length; ci++)
        {
            var chunk = chunks[ci];
            ChunkInfo[ci * ChunkInts] = row;
            ChunkInfo[ci * ChunkInts + 1] = chunk.StartPosition;
            ChunkInfo[ci * ChunkInts + 2] = offset;
            chunk.BlockTable.Span.CopyTo(Tables.AsSpan(offset));
            row += chunk.Count;
            offset += chunk.BlockTable.Length;

            // Last tiles first: causal rows further on attend to more keys, and the pool hands out contiguous ranges
            // in order, so costly items go out first and the cheap ones even out the end.
            int lanes = chunk.Count * group;
            for (int tile = TileCount(lanes) - 1; tile >= 0; tile--)
            {
                int first = tile * Lanes;
                for (int h = 0; h < c.KvHeadCount; h++, n++)
                {
                    Items[n * ItemInts] = ci;
                    Items[n * ItemInts + 1] = h;
                    Items[n * ItemInts + 2] = first;
                    Items[n * ItemInts + 3] = Math.Min(Lanes, lanes - first);
                }
            }
        }
        ItemCount = n;
    }

    // One row per item in the row kernel's case keeps decode as finely split as before.
    private int TileCount(int lanes) => Lanes == 1 ? lanes : (lanes + Lanes - 1) / Lanes;

    private static void Grow(ref int[] a, int n)
    {
        if (a.Length < n) a = new int[Math.Max(n, a.Length * 2)];
    }
}
