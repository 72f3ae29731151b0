using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Models.Kv;
using Inkwell.Runtime.Threading;

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

/// <summary>
/// Causal grouped-query attention over a paged KV cache, with an online softmax (running max and sum, rescaled once
/// per block) so no [context]-sized score buffer is needed.
/// Prefill runs tiles of query lanes (see <see cref="AttentionPlan"/>) against each KV block as two small GEMMs with
/// the lanes across the vector: scores S[key, lane] = K·Qᵀ from broadcast key elements and transposed queries, the
/// softmax per lane is then plain vector math, and Acc[d, lane] += Vᵀ·P likewise. Decode (one row per sequence) runs
/// each row's query heads of a KV head together with dot products along the head, which does not waste vector lanes
/// and reads the cache once for the group; groups of five or more heads fill an 8-lane tile instead.
/// </summary>
internal static unsafe class Attention
{
    private const int MaxBlockSize = 256;
    private const int MaxHeadDim = 512;

    /// <summary>
    /// Items with fewer query lanes go to the row kernel: a tile costs the same vector work whatever its lane count,
    /// and at about this many lanes the row kernel's per-key dot products cost as much.
    /// </summary>
    private const int MinTileLanes = 4;

    /// <summary>
    /// Items whose lanes are this many heads of one row or fewer (decode with grouped-query attention) go to the
    /// grouped row kernel: a tile would leave most of its vector lanes idle. From about five heads an 8-lane tile
    /// is faster (measured with head dims 64 and 128).
    /// </summary>
    private const int MaxGroupQueryHeads = 4;

    internal static int LanesOf(AttentionKernel kernel, LlamaConfig c) => kernel switch
    {
        AttentionKernel.Rows => 1,
        AttentionKernel.Lanes8 => 8,
        AttentionKernel.Lanes16 => 16,
        _ => c.HeadDim > MaxHeadDim ? 1
            : Vector512.IsHardwareAccelerated ? 16
            : Vector256.IsHardwareAccelerated ? 8
            : 1,
    };

    public static void Run(AttentionPlan plan, KvCacheStorage kv, int layer, Span<float> q, Span<float> att, LlamaConfig c, WorkerPool pool)
    {
        if (kv.BlockSize > MaxBlockSize || c.HeadDim > MaxHeadDim)
            throw new NotSupportedException($"block size {kv.BlockSize} or head dim {c.HeadDim} exceeds the attention kernel's limits");

        fixed (float* qp = q, ap = att)
        fixed (int* items = plan.Items, chunkInfo = plan.ChunkInfo, tables = plan.Tables)
        {
            var body = new Body
            {
                Q = qp, Out = ap, Items = items, ChunkInfo = chunkInfo, Tables = tables,
                Kv = kv, Layer = layer, Lanes = plan.Lanes, GroupSize = c.HeadCount / c.KvHeadCount,
                HeadDim = c.HeadDim, QDim = c.QDim, KvDim = c.KvDim, Scale = 1f / MathF.Sqrt(c.HeadDim),
            };
            pool.Run(plan.ItemCount, ref body);
        }
    }

    private struct Body : IRangeBody
    {
        public float* Q, Out;
        public int* Items, ChunkInfo, Tables;
        public KvCacheStorage Kv;
        public int Layer, Lanes, GroupSize, HeadDim, QDim, KvDim;
        public float Scale;

        public void Invoke(int start, int end)
        {
            for (int i = start; i < end; i++)
            {
                int* item = Items + i * AttentionPlan.ItemInts;
                int* chunk = ChunkInfo + item[0] * AttentionPlan.ChunkInts;
                int kvHead = item[1], firstLane = item[2], lanes = item[3];
                bool oneRow = firstLane / GroupSize == (firstLane + lanes - 1) / GroupSize;
                bool grouped = lanes < MinTileLanes || (oneRow && lanes <= MaxGroupQueryHeads);
                // Half-empty 16-lane tiles (decode with groups of 5..8) run 8 wide: the same work in half the width.
                if (!grouped && Lanes == 16 && lanes > 8)
                    Tile<Lanes512, Vector512<float>>(ref this, chunk, kvHead, firstLane, lanes);
                else if (!grouped && Lanes >= 8)
                    Tile<Lanes256, Vector256<float>>(ref this, chunk, kvHead, firstLane, lanes);
                else
                {
                    // Each row's run of heads in this item together, so every key and value row is read once for all.
                    for (int j = firstLane; j < firstLane + lanes;)
                    {
                        int row = j / GroupSize, g = j % GroupSize;
                        int heads = Math.Min(GroupSize - g, firstLane + lanes - j);
                        int h = kvHead * GroupSize + g;
                        if (Lanes == 16 && HeadDim % 16 == 0) GroupQuery<Lanes512, Vector512<float>>(ref this, chunk, row, h, heads);
                        else if (Lanes >= 8 && HeadDim % 8 == 0) GroupQuery<Lanes256, Vector256<float>>(ref this, chunk, row, h, heads);
                        else GroupQuery(ref this, chunk, row, h, heads);
                        j += heads;
                    }
                }
            }
        }
    }

    /// <summary>
    /// One query row and <paramref name="heads"/> consecutive query heads of one KV head against the sequence's past,
    /// with vectors along the head (head dim a multiple of the width). Block by block, each head in turn: the block's
    /// keys and values come from memory for the first head and from L1 for the others, so decode with grouped-query
    /// attention reads the cache once per KV head, not once per query head. Scores of TL.Width keys are summed
    /// across their vectors in one transposing reduction rather than one horizontal sum per key.
    /// </summary>
    [SkipLocalsInit]
    private static void GroupQuery<TL, TV>(ref Body b, int* chunk, int rowInChunk, int firstHead, int heads)
        where TL : struct, ILaneOps<TV> where TV : struct
    {
        int w = TL.Width, hd = b.HeadDim, bs = b.Kv.BlockSize, kvDim = b.KvDim, kvHead = firstHead / b.GroupSize;
        int scoreStride = (bs + w - 1) / w * w;
        byte* raw = stackalloc byte[(w * w + heads * (scoreStride + hd + 2)) * sizeof(float) + 64];
        float* dots = (float*)(((nint)raw + 63) & ~(nint)63);  // [w, w] per-key dot product vectors, before their sums
        float* scores = dots + w * w;                          // [heads, scoreStride] one block's scores, then exps
        float* acc = scores + heads * scoreStride;             // [heads, hd] unnormalized outputs
        float* runMax = acc + heads * hd;                      // [heads]
        float* runSum = runMax + heads;                        // [heads]
        long row = chunk[0] + rowInChunk;
        int pos = chunk[1] + rowInChunk;
        int* table = b.Tables + chunk[2];
        float* q = b.Q + row * b.QDim + firstHead * hd;        // [heads, hd]
        new Span<float>(acc, heads * hd).Clear();
        new Span<float>(runMax, heads).Fill(float.NegativeInfinity);
        new Span<float>(runSum, heads).Clear();
        TV scale = TL.Splat(b.Scale);
        for (int blk = 0; blk * bs <= pos; blk++)
        {
            int n = Math.Min(bs, pos + 1 - blk * bs);
            int padded = (n + w - 1) / w * w;
            float* keys = b.Kv.KeyBlock(b.Layer, table[blk]) + kvHead * hd;
            float* values = b.Kv.ValueBlock(b.Layer, table[blk]) + kvHead * hd;
            for (int g = 0; g < heads; g++)
            {
                float* qg = q + g * hd, s = scores + g * scoreStride;
                TV max = TL.Splat(float.NegativeInfinity);
                for (int t0 = 0; t0 < n; t0 += w)
                {
                    int m = Math.Min(w, n - t0);
                    float* k = keys + (long)t0 * kvDim;
                    for (int i = 0; i < m; i++, k += kvDim)
                    {
                        TV dot = TL.Mul(TL.Load(qg), TL.Load(k));
                        for (int d = w; d < hd; d += w) dot = TL.MulAdd(TL.Load(qg + d), TL.Load(k + d), dot);
                        TL.Store(dot, dots + i * w);
                    }
                    // Rows of dots past m are stale; their lanes become -inf, whose exp is 0.
                    TV sc = TL.MaskFrom(TL.Mul(TL.SumEach(dots), scale), m);
                    TL.Store(sc, s + t0);
                    max = TL.Max(max, sc);
                }
                float newMax = Math.Max(runMax[g], TL.MaxAcross(max));
                float alpha = MathF.Exp(runMax[g] - newMax);  // 0 on the first block, where acc and runSum are 0
                runMax[g] = newMax;
                TV maxV = TL.Splat(newMax), sum = TL.Splat(0f);
                for (int t = 0; t < padded; t += w)
                {
                    TV e = TL.Exp(TL.Sub(TL.Load(s + t), maxV));
                    TL.Store(e, s + t);
                    sum = TL.Add(sum, e);
                }
                runSum[g] = runSum[g] * alpha + TL.Sum(sum);
                AccumulateRow<TL, TV>(acc + g * hd, s, values, kvDim, hd, n, TL.Splat(alpha));
            }
        }
        float* o = b.Out + row * b.QDim + firstHead * hd;
        for (int g = 0; g < heads; g++)
        {
            TV inv = TL.Splat(1f / runSum[g]);
            for (int d = 0; d < hd; d += w) TL.Store(TL.Mul(TL.Load(acc + g * hd + d), inv), o + g * hd + d);
        }
    }

    /// <summary>acc[d] = acc[d] * alpha + Σ_t p[t] · values[t, d] for t &lt; n; up to eight head-dim vectors per pass over the keys.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateRow<TL, TV>(float* acc, float* p, float* values, int kvDim, int hd, int n, TV alpha)
        where TL : struct, ILaneOps<TV> where TV : struct
    {
        int w = TL.Width, d0 = 0;
        for (; d0 + 8 * w <= hd; d0 += 8 * w)
        {
            float* a = acc + d0;
            TV a0 = TL.Mul(TL.Load(a), alpha), a1 = TL.Mul(TL.Load(a + w), alpha);
            TV a2 = TL.Mul(TL.Load(a + 2 * w), alpha), a3 = TL.Mul(TL.Load(a + 3 * w), alpha);
            TV a4 = TL.Mul(TL.Load(a + 4 * w), alpha), a5 = TL.Mul(TL.Load(a + 5 * w), alpha);
            TV a6 = TL.Mul(TL.Load(a + 6 * w), alpha), a7 = TL.Mul(TL.Load(a + 7 * w), alpha);
            float* v = values + d0;
            for (int t = 0; t < n; t++, v += kvDim)
            {
                TV pt = TL.Splat(p[t]);
                a0 = TL.MulAdd(pt, TL.Load(v), a0);
                a1 = TL.MulAdd(pt, TL.Load(v + w), a1);
                a2 = TL.MulAdd(pt, TL.Load(v + 2 * w), a2);
                a3 = TL.MulAdd(pt, TL.Load(v + 3 * w), a3);
                a4 = TL.MulAdd(pt, TL.Load(v + 4 * w), a4);
                a5 = TL.MulAdd(pt, TL.Load(v + 5 * w), a5);
                a6 = TL.MulAdd(pt, TL.Load(v + 6 * w), a6);
                a7 = TL.MulAdd(pt, TL.Load(v + 7 * w), a7);
            }
            TL.Store(a0, a); TL.Store(a1, a + w); TL.Store(a2, a + 2 * w); TL.Store(a3, a + 3 * w);
            TL.Store(a4, a + 4 * w); TL.Store(a5, a + 5 * w); TL.Store(a6, a + 6 * w); TL.Store(a7, a + 7 * w);
        }
        for (; d0 + 4 * w <= hd; d0 += 4 * w)
        {
            float* a = acc + d0;
            TV a0 = TL.Mul(TL.Load(a), alpha), a1 = TL.Mul(TL.Load(a + w), alpha);
            TV a2 = TL.Mul(TL.Load(a + 2 * w), alpha), a3 = TL.Mul(TL.Load(a + 3 * w), alpha);
            float* v = values + d0;
            for (int t = 0; t < n; t++, v += kvDim)
            {
                TV pt = TL.Splat(p[t]);
                a0 = TL.MulAdd(pt, TL.Load(v), a0);
                a1 = TL.MulAdd(pt, TL.Load(v + w), a1);
                a2 = TL.MulAdd(pt, TL.Load(v + 2 * w), a2);
                a3 = TL.MulAdd(pt, TL.Load(v + 3 * w), a3);
            }
            TL.Store(a0, a); TL.Store(a1, a + w); TL.Store(a2, a + 2 * w); TL.Store(a3, a + 3 * w);
        }
        for (; d0 + 2 * w <= hd; d0 += 2 * w)
        {
            float* a = acc + d0;
            TV a0 = TL.Mul(TL.Load(a), alpha), a1 = TL.Mul(TL.Load(a + w), alpha);
            float* v = values + d0;
            for (int t = 0; t < n; t++, v += kvDim)
            {
                TV pt = TL.Splat(p[t]);
                a0 = TL.MulAdd(pt, TL.Load(v), a0);
                a1 = TL.MulAdd(pt, TL.Load(v + w), a1);
            }
            TL.Store(a0, a); TL.Store(a1, a + w);
        }
        if (d0 < hd)
        {
            float* a = acc + d0;
            TV a0 = TL.Mul(TL.Load(a), alpha);
            float* v = values + d0;
            for (int t = 0; t < n; t++, v += kvDim) a0 = TL.MulAdd(TL.Splat(p[t]), TL.Load(v), a0);
            TL.Store(a0, a);
        }
    }

    /// <summary>
    /// <see cref="GroupQuery{TL, TV}"/> for any head dim: dot products along the head, block by block and head by
    /// head, so each key and value row is read from memory once for all the heads.
    /// </summary>
    [SkipLocalsInit]
    private static void GroupQuery(ref Body b, int* chunk, int rowInChunk, int firstHead, int heads)
    {
        int hd = b.HeadDim, bs = b.Kv.BlockSize, kvDim = b.KvDim, kvHead = firstHead / b.GroupSize;
        float* scores = stackalloc float[bs];
        float* acc = stackalloc float[heads * hd];            // [heads, hd] unnormalized outputs
        float* runMax = stackalloc float[heads];
        float* runSum = stackalloc float[heads];
        long row = chunk[0] + rowInChunk;
        int pos = chunk[1] + rowInChunk;
        int* table = b.Tables + chunk[2];
        float* q = b.Q + row * b.QDim + firstHead * hd;        // [heads, hd]
        new Span<float>(acc, heads * hd).Clear();
        new Span<float>(runMax, heads).Fill(float.NegativeInfinity);
        new Span<float>(runSum, heads).Clear();
        for (int blk = 0; blk * bs <= pos; blk++)
        {
            int n = Math.Min(bs, pos + 1 - blk * bs);
            float* keys = b.Kv.KeyBlock(b.Layer, table[blk]) + kvHead * hd;
            float* values = b.Kv.ValueBlock(b.Layer, table[blk]) + kvHead * hd;
            for (int g = 0; g < heads; g++)
            {
                var qv = new ReadOnlySpan<float>(q + g * hd, hd);
                var a = new Span<float>(acc + g * hd, hd);
                float blockMax = float.NegativeInfinity;
                for (int t = 0; t < n; t++)
                {
                    float sc = TensorPrimitives.Dot(qv, new ReadOnlySpan<float>(keys + (long)t * kvDim, hd)) * b.Scale;
                    scores[t] = sc;
                    if (sc > blockMax) blockMax = sc;
                }
                float newMax = Math.Max(runMax[g], blockMax);
                if (newMax > runMax[g] && runSum[g] > 0f)
                {
                    float rescale = MathF.Exp(runMax[g] - newMax);
                    TensorPrimitives.Multiply(a, rescale, a);
                    runSum[g] *= rescale;
                }
                runMax[g] = newMax;
                for (int t = 0; t < n; t++)
                {
                    float p = MathF.Exp(scores[t] - newMax);
                    runSum[g] += p;
                    TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(values + (long)t * kvDim, hd), p, a, a);
                }
            }
        }
        float* o = b.Out + row * b.QDim + firstHead * hd;
        for (int g = 0; g < heads; g++)
            TensorPrimitives.Multiply(new ReadOnlySpan<float>(acc + g * hd, hd), 1f / runSum[g], new Span<float>(o + g * hd, hd));
    }

    /// <summary>
    /// A tile of up to TL.Width query lanes of one chunk and KV head, the lanes across the vector. Lanes past
    /// <paramref name="lanes"/> repeat the last query and are not written out.
    /// </summary>
    [SkipLocalsInit]
    private static void Tile<TL, TV>(ref Body b, int* chunk, int kvHead, int firstLane, int lanes)
        where TL : struct, ILaneOps<TV> where TV : struct
    {
        int w = TL.Width, hd = b.HeadDim, bs = b.Kv.BlockSize, group = b.GroupSize, kvDim = b.KvDim;
        int firstRow = chunk[0], startPos = chunk[1];
        int* table = b.Tables + chunk[2];

        byte* raw = stackalloc byte[((2 * hd + bs + 2) * w) * sizeof(float) + 64];
        float* qt = (float*)(((nint)raw + 63) & ~(nint)63);  // [hd, w] queries, transposed and pre-scaled
        float* acc = qt + hd * w;                              // [hd, w] unnormalized output, transposed
        float* p = acc + hd * w;                               // [bs, w] scores, then probabilities, of one block
        float* lanePos = p + bs * w;                           // [w] position of each lane's row
        float* laneSum = lanePos + w;                          // [w] reciprocals of the softmax denominators at the end

        float** rows = stackalloc float*[w];
        for (int l = 0; l < w; l++)
        {
            int j = firstLane + Math.Min(l, lanes - 1);
            int r = j / group, h = kvHead * group + j % group;
            rows[l] = b.Q + (long)(firstRow + r) * b.QDim + h * hd;
            lanePos[l] = startPos + r;
        }
        // Width × width blocks transposed in registers, the head dim's tail (head dims not a multiple of the width) by element.
        TV scale = TL.Splat(b.Scale);
        int dBlocks = hd / w * w;
        for (int d = 0; d < dBlocks; d += w)
        {
            TL.Transpose(rows, d, qt + d * w);
            for (int c = d; c < d + w; c++) TL.Store(TL.Mul(TL.Load(qt + c * w), scale), qt + c * w);
        }
        for (int l = 0; l < w; l++)
            for (int d = dBlocks; d < hd; d++) qt[d * w + l] = rows[l][d] * b.Scale;
        new Span<float>(acc, hd * w).Clear();

        int minPos = startPos + firstLane / group, maxPos = startPos + (firstLane + lanes - 1) / group;
        TV positions = TL.Load(lanePos);
        TV runMax = TL.Splat(float.NegativeInfinity), runSum = TL.Splat(0f);
        for (int blk = 0, blockStart = 0; blockStart <= maxPos; blk++, blockStart += bs)
        {
            int n = Math.Min(bs, maxPos + 1 - blockStart);
            float* keys = b.Kv.KeyBlock(b.Layer, table[blk]) + kvHead * hd;
            float* values = b.Kv.ValueBlock(b.Layer, table[blk]) + kvHead * hd;

            Scores<TL, TV>(qt, keys, kvDim, hd, n, bs, p);

            // Causal mask: keys past a lane's own position. Slots past n may hold anything (never written, or a
            // previous owner's data): their scores are masked to -inf by a bitwise select, and V is read only below n.
            for (int t = Math.Max(0, minPos + 1 - blockStart); t < n; t++)
                TL.Store(TL.MaskAfter(TL.Load(p + t * w), positions, blockStart + t), p + t * w);

            TV blockMax = TL.Load(p);
            for (int t = 1; t < n; t++) blockMax = TL.Max(blockMax, TL.Load(p + t * w));
            TV newMax = TL.Max(runMax, blockMax);
            // Key 0 is visible to every lane, so after the first block runMax is finite; before it, exp(-inf) = 0.
            TV alpha = TL.Exp(TL.Sub(runMax, newMax));
            runMax = newMax;
            TV sum = TL.Mul(runSum, alpha);
            for (int t = 0; t < n; t++)
            {
                TV e = TL.Exp(TL.Sub(TL.Load(p + t * w), newMax));
                TL.Store(e, p + t * w);
                sum = TL.Add(sum, e);
            }
            runSum = sum;

            AccumulateValues<TL, TV>(acc, p, values, kvDim, hd, n, alpha);
        }

        TL.Store(TL.Div(TL.Splat(1f), runSum), laneSum);
        for (int l = 0; l < lanes; l++)
        {
            int j = firstLane + l;
            int r = j / group, h = kvHead * group + j % group;
            rows[l] = b.Out + (long)(firstRow + r) * b.QDim + h * hd;
        }
        // Back to rows through a width × width block in qt (free now; it holds at least that much when dBlocks > 0),
        // scaled by 1 / sum per lane.
        float** accRows = stackalloc float*[w];
        for (int i = 0; i < w; i++) accRows[i] = acc + i * w;
        for (int d = 0; d < dBlocks; d += w)
        {
            TL.Transpose(accRows, d * w, qt);
            for (int l = 0; l < lanes; l++) TL.Store(TL.Mul(TL.Load(qt + l * w), TL.Splat(laneSum[l])), rows[l] + d);
        }
        for (int l = 0; l < lanes; l++)
            for (int d = dBlocks; d < hd; d++) rows[l][d] = acc[d * w + l] * laneSum[l];
    }

    /// <summary>
    /// p[t, lane] = keys[t]·qt[·, lane] for t &lt; n (and, in groups of four, possibly up to the block size).
    /// Four keys at a time, each split over even and odd d: eight independent FMA chains share every query load.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scores<TL, TV>(float* qt, float* keys, int kvDim, int hd, int n, int bs, float* p)
        where TL : struct, ILaneOps<TV> where TV : struct
    {
        int w = TL.Width;
        int padded = Math.Min(bs, (n + 3) & ~3);
        int t = 0;
        for (; t + 4 <= padded; t += 4)
        {
            float* k0 = keys + (long)t * kvDim, k1 = k0 + kvDim, k2 = k1 + kvDim, k3 = k2 + kvDim;
            TV s0 = TL.Splat(0f), s1 = s0, s2 = s0, s3 = s0, u0 = s0, u1 = s0, u2 = s0, u3 = s0;
            int d = 0;
            for (; d + 2 <= hd; d += 2)
            {
                TV qa = TL.Load(qt + d * w), qb = TL.Load(qt + (d + 1) * w);
                s0 = TL.MulAdd(TL.Splat(k0[d]), qa, s0);
                s1 = TL.MulAdd(TL.Splat(k1[d]), qa, s1);
                s2 = TL.MulAdd(TL.Splat(k2[d]), qa, s2);
                s3 = TL.MulAdd(TL.Splat(k3[d]), qa, s3);
                u0 = TL.MulAdd(TL.Splat(k0[d + 1]), qb, u0);
                u1 = TL.MulAdd(TL.Splat(k1[d + 1]), qb, u1);
                u2 = TL.MulAdd(TL.Splat(k2[d + 1]), qb, u2);
                u3 = TL.MulAdd(TL.Splat(k3[d + 1]), qb, u3);
            }
            if (d < hd)
            {
                TV qa = TL.Load(qt + d * w);
                s0 = TL.MulAdd(TL.Splat(k0[d]), qa, s0);
                s1 = TL.MulAdd(TL.Splat(k1[d]), qa, s1);
                s2 = TL.MulAdd(TL.Splat(k2[d]), qa, s2);
                s3 = TL.MulAdd(TL.Splat(k3[d]), qa, s3);
            }
            TL.Store(TL.Add(s0, u0), p + t * w);
            TL.Store(TL.Add(s1, u1), p + (t + 1) * w);
            TL.Store(TL.Add(s2, u2), p + (t + 2) * w);
            TL.Store(TL.Add(s3, u3), p + (t + 3) * w);
        }
        for (; t < n; t++)
        {
            float* k0 = keys + (long)t * kvDim;
            TV s0 = TL.Splat(0f), u0 = s0;
            int d = 0;
            for (; d + 2 <= hd; d += 2)
            {
                s0 = TL.MulAdd(TL.Splat(k0[d]), TL.Load(qt + d * w), s0);
                u0 = TL.MulAdd(TL.Splat(k0[d + 1]), TL.Load(qt + (d + 1) * w), u0);
            }
            if (d < hd) s0 = TL.MulAdd(TL.Splat(k0[d]), TL.Load(qt + d * w), s0);
            TL.Store(TL.Add(s0, u0), p + t * w);
        }
    }

    /// <summary>acc[d, lane] = acc[d, lane] * alpha[lane] + Σ_t values[t, d] * p[t, lane], eight d at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AccumulateValues<TL, TV>(float* acc, float* p, float* values, int kvDim, int hd, int n, TV alpha)
        where TL : struct, ILaneOps<TV> where TV : struct
    {
        int w = TL.Width;
        int d = 0;
        for (; d + 8 <= hd; d += 8)
        {
            float* a = acc + d * w;
            TV a0 = TL.Mul(TL.Load(a), alpha), a1 = TL.Mul(TL.Load(a + w), alpha);
            TV a2 = TL.Mul(TL.Load(a + 2 * w), alpha), a3 = TL.Mul(TL.Load(a + 3 * w), alpha);
            TV a4 = TL.Mul(TL.Load(a + 4 * w), alpha), a5 = TL.Mul(TL.Load(a + 5 * w), alpha);
            TV a6 = TL.Mul(TL.Load(a + 6 * w), alpha), a7 = TL.Mul(TL.Load(a + 7 * w), alpha);
            float* v = values + d;
            for (int t = 0; t < n; t++, v += kvDim)
            {
                TV pt = TL.Load(p + t * w);
                a0 = TL.MulAdd(TL.Splat(v[0]), pt, a0);
                a1 = TL.MulAdd(TL.Splat(v[1]), pt, a1);
                a2 = TL.MulAdd(TL.Splat(v[2]), pt, a2);
                a3 = TL.MulAdd(TL.Splat(v[3]), pt, a3);
                a4 = TL.MulAdd(TL.Splat(v[4]), pt, a4);
                a5 = TL.MulAdd(TL.Splat(v[5]), pt, a5);
                a6 = TL.MulAdd(TL.Splat(v[6]), pt, a6);
                a7 = TL.MulAdd(TL.Splat(v[7]), pt, a7);
            }
            TL.Store(a0, a); TL.Store(a1, a + w); TL.Store(a2, a + 2 * w); TL.Store(a3, a + 3 * w);
            TL.Store(a4, a + 4 * w); TL.Store(a5, a + 5 * w); TL.Store(a6, a + 6 * w); TL.Store(a7, a + 7 * w);
        }
        for (; d < hd; d++)
        {
            float* a = acc + d * w;
            TV a0 = TL.Mul(TL.Load(a), alpha);
            for (int t = 0; t < n; t++) a0 = TL.MulAdd(TL.Splat(values[(long)t * kvDim + d]), TL.Load(p + t * w), a0);
            TL.Store(a0, a);
        }
    }
}

/// <summary>
/// The few vector operations the lane kernel needs, over one vector width. A struct type argument, so each width
/// gets its own compiled kernel with these calls inlined.
/// </summary>
internal unsafe interface ILaneOps<TV> where TV : struct
{
    static abstract int Width { get; }
    static abstract TV Load(float* p);
    static abstract void Store(TV v, float* p);
    static abstract TV Splat(float x);
    /// <summary>a * b + c, fused where the hardware has FMA.</summary>
    static abstract TV MulAdd(TV a, TV b, TV c);
    static abstract TV Mul(TV a, TV b);
    static abstract TV Add(TV a, TV b);
    static abstract TV Sub(TV a, TV b);
    static abstract TV Div(TV a, TV b);
    static abstract TV Max(TV a, TV b);
    static abstract TV Exp(TV v);
    static abstract float Sum(TV v);
    /// <summary>-inf in the lanes whose position is before <paramref name="keyPosition"/>, the score elsewhere.</summary>
    static abstract TV MaskAfter(TV scores, TV lanePositions, float keyPosition);
    /// <summary>-inf in lanes <paramref name="count"/> and up, v elsewhere.</summary>
    static abstract TV MaskFrom(TV v, int count);
    /// <summary>The largest element.</summary>
    static abstract float MaxAcross(TV v);
    /// <summary>Lane i = the sum of the elements of vector i, for the Width vectors at <paramref name="vectors"/> (Width floats apart).</summary>
    static abstract TV SumEach(float* vectors);
    /// <summary>dst[c * Width + i] = rows[i][offset + c] for i, c &lt; Width.</summary>
    static abstract void Transpose(float** rows, int offset, float* dst);
}

internal readonly unsafe struct Lanes512 : ILaneOps<Vector512<float>>
{
    public static int Width => Vector512<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Load(float* p) => Vector512.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector512<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Splat(float x) => Vector512.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> MulAdd(Vector512<float> a, Vector512<float> b, Vector512<float> c) => Vector512.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Mul(Vector512<float> a, Vector512<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Add(Vector512<float> a, Vector512<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Sub(Vector512<float> a, Vector512<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Div(Vector512<float> a, Vector512<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Max(Vector512<float> a, Vector512<float> b) => Vector512.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Exp(Vector512<float> v) => VectorExp.Exp(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector512<float> v) => Vector512.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaskAfter(Vector512<float> scores, Vector512<float> lanePositions, float keyPosition) =>
        Vector512.ConditionalSelect(Vector512.LessThan(lanePositions, Vector512.Create(keyPosition)), Vector512.Create(float.NegativeInfinity), scores);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> MaskFrom(Vector512<float> v, int count) =>
        Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(Vector512<float>.Indices, Vector512.Create((float)count)), Vector512.Create(float.NegativeInfinity), v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector512<float> v)
    {
        var m = Vector128.Max(Vector256.Max(v.GetLower(), v.GetUpper()).GetLower(), Vector256.Max(v.GetLower(), v.GetUpper()).GetUpper());
        return Math.Max(Math.Max(m.GetElement(0), m.GetElement(1)), Math.Max(m.GetElement(2), m.GetElement(3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> SumEach(float* v)
    {
        if (!Avx512F.IsSupported)
        {
            var sums = Vector512<float>.Zero;
            for (int i = 0; i < 16; i++) sums = sums.WithElement(i, Vector512.Sum(Vector512.Load(v + i * 16)));
            return sums;
        }
        // Pairs, then quads, interleaved within 128-bit lanes; then two rounds of 128-bit lane shuffles:
        // 45 shuffles and adds for 16 sums instead of a full horizontal sum each.
        var p0 = Pair(v, 0); var p1 = Pair(v, 2); var p2 = Pair(v, 4); var p3 = Pair(v, 6);
        var p4 = Pair(v, 8); var p5 = Pair(v, 10); var p6 = Pair(v, 12); var p7 = Pair(v, 14);
        // q[k]: per 128-bit lane L, the partial sums over lane L of vectors 4k..4k+3
        var q0 = Quad(p0, p1); var q1 = Quad(p2, p3); var q2 = Quad(p4, p5); var q3 = Quad(p6, p7);
        var r01 = Avx512F.Shuffle4x128(q0, q1, 0x88) + Avx512F.Shuffle4x128(q0, q1, 0xDD);
        var r23 = Avx512F.Shuffle4x128(q2, q3, 0x88) + Avx512F.Shuffle4x128(q2, q3, 0xDD);
        return Avx512F.Shuffle4x128(r01, r23, 0x88) + Avx512F.Shuffle4x128(r01, r23, 0xDD);

        // Per 128-bit lane: [a0+a2, b0+b2, a1+a3, b1+b3] of vectors a = v[i], b = v[i + 1].
        static Vector512<float> Pair(float* v, int i)
        {
            Vector512<float> a = Vector512.Load(v + i * 16), b = Vector512.Load(v + (i + 1) * 16);
            return Avx512F.UnpackLow(a, b) + Avx512F.UnpackHigh(a, b);
        }
        // Per 128-bit lane: the lane sums of the four vectors of two pairs.
        static Vector512<float> Quad(Vector512<float> x, Vector512<float> y) =>
            Avx512F.UnpackLow(x.AsDouble(), y.AsDouble()).AsSingle() + Avx512F.UnpackHigh(x.AsDouble(), y.AsDouble()).AsSingle();
    }

    public static void Transpose(float** rows, int offset, float* dst)
    {
        if (!Avx512F.IsSupported)
        {
            for (int i = 0; i < 16; i++)
                for (int c = 0; c < 16; c++) dst[c * 16 + i] = rows[i][offset + c];
            return;
        }
        // Unpack pairs of rows, then shufps, then two rounds of 128-bit lane shuffles: 64 shuffles per 256 values.
        var r0 = Vector512.Load(rows[0] + offset); var r1 = Vector512.Load(rows[1] + offset);
        var r2 = Vector512.Load(rows[2] + offset); var r3 = Vector512.Load(rows[3] + offset);
        var r4 = Vector512.Load(rows[4] + offset); var r5 = Vector512.Load(rows[5] + offset);
        var r6 = Vector512.Load(rows[6] + offset); var r7 = Vector512.Load(rows[7] + offset);
        var r8 = Vector512.Load(rows[8] + offset); var r9 = Vector512.Load(rows[9] + offset);
        var r10 = Vector512.Load(rows[10] + offset); var r11 = Vector512.Load(rows[11] + offset);
        var r12 = Vector512.Load(rows[12] + offset); var r13 = Vector512.Load(rows[13] + offset);
        var r14 = Vector512.Load(rows[14] + offset); var r15 = Vector512.Load(rows[15] + offset);

        // t: per 128-bit lane L, rows (2a, 2a+1) interleaved at columns 4L, 4L+1 (lo) or 4L+2, 4L+3 (hi)
        var t0 = Avx512F.UnpackLow(r0, r1); var t1 = Avx512F.UnpackHigh(r0, r1);
        var t2 = Avx512F.UnpackLow(r2, r3); var t3 = Avx512F.UnpackHigh(r2, r3);
        var t4 = Avx512F.UnpackLow(r4, r5); var t5 = Avx512F.UnpackHigh(r4, r5);
        var t6 = Avx512F.UnpackLow(r6, r7); var t7 = Avx512F.UnpackHigh(r6, r7);
        var t8 = Avx512F.UnpackLow(r8, r9); var t9 = Avx512F.UnpackHigh(r8, r9);
        var t10 = Avx512F.UnpackLow(r10, r11); var t11 = Avx512F.UnpackHigh(r10, r11);
        var t12 = Avx512F.UnpackLow(r12, r13); var t13 = Avx512F.UnpackHigh(r12, r13);
        var t14 = Avx512F.UnpackLow(r14, r15); var t15 = Avx512F.UnpackHigh(r14, r15);

        // u[4q + c]: per lane L, rows 4q..4q+3 at column 4L + c
        var u0 = Avx512F.Shuffle(t0, t2, 0x44); var u1 = Avx512F.Shuffle(t0, t2, 0xEE);
        var u2 = Avx512F.Shuffle(t1, t3, 0x44); var u3 = Avx512F.Shuffle(t1, t3, 0xEE);
        var u4 = Avx512F.Shuffle(t4, t6, 0x44); var u5 = Avx512F.Shuffle(t4, t6, 0xEE);
        var u6 = Avx512F.Shuffle(t5, t7, 0x44); var u7 = Avx512F.Shuffle(t5, t7, 0xEE);
        var u8 = Avx512F.Shuffle(t8, t10, 0x44); var u9 = Avx512F.Shuffle(t8, t10, 0xEE);
        var u10 = Avx512F.Shuffle(t9, t11, 0x44); var u11 = Avx512F.Shuffle(t9, t11, 0xEE);
        var u12 = Avx512F.Shuffle(t12, t14, 0x44); var u13 = Avx512F.Shuffle(t12, t14, 0xEE);
        var u14 = Avx512F.Shuffle(t13, t15, 0x44); var u15 = Avx512F.Shuffle(t13, t15, 0xEE);

        // v[c]: rows 0-3 and 4-7 at columns c and 8 + c; v[4 + c]: the same at 4 + c and 12 + c; v[8..15]: rows 8-15
        var v0 = Avx512F.Shuffle4x128(u0, u4, 0x88); var v4 = Avx512F.Shuffle4x128(u0, u4, 0xDD);
        var v1 = Avx512F.Shuffle4x128(u1, u5, 0x88); var v5 = Avx512F.Shuffle4x128(u1, u5, 0xDD);
        var v2 = Avx512F.Shuffle4x128(u2, u6, 0x88); var v6 = Avx512F.Shuffle4x128(u2, u6, 0xDD);
        var v3 = Avx512F.Shuffle4x128(u3, u7, 0x88); var v7 = Avx512F.Shuffle4x128(u3, u7, 0xDD);
        var v8 = Avx512F.Shuffle4x128(u8, u12, 0x88); var v12 = Avx512F.Shuffle4x128(u8, u12, 0xDD);
        var v9 = Avx512F.Shuffle4x128(u9, u13, 0x88); var v13 = Avx512F.Shuffle4x128(u9, u13, 0xDD);
        var v10 = Avx512F.Shuffle4x128(u10, u14, 0x88); var v14 = Avx512F.Shuffle4x128(u10, u14, 0xDD);
        var v11 = Avx512F.Shuffle4x128(u11, u15, 0x88); var v15 = Avx512F.Shuffle4x128(u11, u15, 0xDD);

        // column c = all sixteen rows
        Avx512F.Shuffle4x128(v0, v8, 0x88).Store(dst);
        Avx512F.Shuffle4x128(v1, v9, 0x88).Store(dst + 16);
        Avx512F.Shuffle4x128(v2, v10, 0x88).Store(dst + 2 * 16);
        Avx512F.Shuffle4x128(v3, v11, 0x88).Store(dst + 3 * 16);
        Avx512F.Shuffle4x128(v4, v12, 0x88).Store(dst + 4 * 16);
        Avx512F.Shuffle4x128(v5, v13, 0x88).Store(dst + 5 * 16);
        Avx512F.Shuffle4x128(v6, v14, 0x88).Store(dst + 6 * 16);
        Avx512F.Shuffle4x128(v7, v15, 0x88).Store(dst + 7 * 16);
        Avx512F.Shuffle4x128(v0, v8, 0xDD).Store(dst + 8 * 16);
        Avx512F.Shuffle4x128(v1, v9, 0xDD).Store(dst + 9 * 16);
        Avx512F.Shuffle4x128(v2, v10, 0xDD).Store(dst + 10 * 16);
        Avx512F.Shuffle4x128(v3, v11, 0xDD).Store(dst + 11 * 16);
        Avx512F.Shuffle4x128(v4, v12, 0xDD).Store(dst + 12 * 16);
        Avx512F.Shuffle4x128(v5, v13, 0xDD).Store(dst + 13 * 16);
        Avx512F.Shuffle4x128(v6, v14, 0xDD).Store(dst + 14 * 16);
        Avx512F.Shuffle4x128(v7, v15, 0xDD).Store(dst + 15 * 16);
    }
}

internal readonly unsafe struct Lanes256 : ILaneOps<Vector256<float>>
{
    public static int Width => Vector256<float>.Count;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Load(float* p) => Vector256.Load(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static void Store(Vector256<float> v, float* p) => v.Store(p);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Splat(float x) => Vector256.Create(x);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> MulAdd(Vector256<float> a, Vector256<float> b, Vector256<float> c) => Vector256.MultiplyAddEstimate(a, b, c);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Mul(Vector256<float> a, Vector256<float> b) => a * b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Add(Vector256<float> a, Vector256<float> b) => a + b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Sub(Vector256<float> a, Vector256<float> b) => a - b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Div(Vector256<float> a, Vector256<float> b) => a / b;
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Max(Vector256<float> a, Vector256<float> b) => Vector256.Max(a, b);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Exp(Vector256<float> v) => VectorExp.Exp(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)] public static float Sum(Vector256<float> v) => Vector256.Sum(v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MaskAfter(Vector256<float> scores, Vector256<float> lanePositions, float keyPosition) =>
        Vector256.ConditionalSelect(Vector256.LessThan(lanePositions, Vector256.Create(keyPosition)), Vector256.Create(float.NegativeInfinity), scores);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> MaskFrom(Vector256<float> v, int count) =>
        Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(Vector256<float>.Indices, Vector256.Create((float)count)), Vector256.Create(float.NegativeInfinity), v);
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float MaxAcross(Vector256<float> v)
    {
        var m = Vector128.Max(v.GetLower(), v.GetUpper());
        return Math.Max(Math.Max(m.GetElement(0), m.GetElement(1)), Math.Max(m.GetElement(2), m.GetElement(3)));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> SumEach(float* v)
    {
        if (!Avx.IsSupported)
        {
            var sums = Vector256<float>.Zero;
            for (int i = 0; i < 8; i++) sums = sums.WithElement(i, Vector256.Sum(Vector256.Load(v + i * 8)));
            return sums;
        }
        var p0 = Pair(v, 0); var p1 = Pair(v, 2); var p2 = Pair(v, 4); var p3 = Pair(v, 6);
        var q0 = Quad(p0, p1); var q1 = Quad(p2, p3);
        return Avx.Permute2x128(q0, q1, 0x20) + Avx.Permute2x128(q0, q1, 0x31);

        static Vector256<float> Pair(float* v, int i)
        {
            Vector256<float> a = Vector256.Load(v + i * 8), b = Vector256.Load(v + (i + 1) * 8);
            return Avx.UnpackLow(a, b) + Avx.UnpackHigh(a, b);
        }
        static Vector256<float> Quad(Vector256<float> x, Vector256<float> y) =>
            Avx.UnpackLow(x.AsDouble(), y.AsDouble()).AsSingle() + Avx.UnpackHigh(x.AsDouble(), y.AsDouble()).AsSingle();
    }

    public static void Transpose(float** rows, int offset, float* dst)
    {
        if (!Avx.IsSupported)
        {
            for (int i = 0; i < 8; i++)
                for (int c = 0; c < 8; c++) dst[c * 8 + i] = rows[i][offset + c];
            return;
        }
        var r0 = Vector256.Load(rows[0] + offset); var r1 = Vector256.Load(rows[1] + offset);
        var r2 = Vector256.Load(rows[2] + offset); var r3 = Vector256.Load(rows[3] + offset);
        var r4 = Vector256.Load(rows[4] + offset); var r5 = Vector256.Load(rows[5] + offset);
        var r6 = Vector256.Load(rows[6] + offset); var r7 = Vector256.Load(rows[7] + offset);
        // t: per 128-bit lane L, rows (2a, 2a+1) interleaved at columns 4L, 4L+1 (lo) or 4L+2, 4L+3 (hi)
        var t0 = Avx.UnpackLow(r0, r1); var t1 = Avx.UnpackHigh(r0, r1);
        var t2 = Avx.UnpackLow(r2, r3); var t3 = Avx.UnpackHigh(r2, r3);
        var t4 = Avx.UnpackLow(r4, r5); var t5 = Avx.UnpackHigh(r4, r5);
        var t6 = Avx.UnpackLow(r6, r7); var t7 = Avx.UnpackHigh(r6, r7);
        // u[4q + c]: per lane L, rows 4q..4q+3 at column 4L + c
        var u0 = Avx.Shuffle(t0, t2, 0x44); var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44); var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44); var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44); var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Permute2x128(u0, u4, 0x20).Store(dst);
        Avx.Permute2x128(u1, u5, 0x20).Store(dst + 8);
        Avx.Permute2x128(u2, u6, 0x20).Store(dst + 2 * 8);
        Avx.Permute2x128(u3, u7, 0x20).Store(dst + 3 * 8);
        Avx.Permute2x128(u0, u4, 0x31).Store(dst + 4 * 8);
        Avx.Permute2x128(u1, u5, 0x31).Store(dst + 5 * 8);
        Avx.Permute2x128(u2, u6, 0x31).Store(dst + 6 * 8);
        Avx.Permute2x128(u3, u7, 0x31).Store(dst + 7 * 8);
    }
}
