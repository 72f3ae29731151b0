using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Attention;

/// <summary>
/// Causal grouped-query attention over a paged KV cache, with an online softmax (running max and sum, rescaled once
/// per block) so no [context]-sized score buffer is needed.
/// Prefill runs tiles of query lanes (see <see cref="AttentionPlan"/>) against each KV block as two small GEMMs with
/// the lanes across the vector: scores S[key, lane] = K·Qᵀ from broadcast key elements and transposed queries, the
/// softmax per lane is then plain vector math, and Acc[d, lane] += Vᵀ·P likewise. Decode (one row per sequence) runs
/// each row's query heads of a KV head together with dot products along the head, which does not waste vector lanes
/// and reads the cache once for the group; groups of five or more heads fill an 8-lane tile instead.
/// </summary>
public static unsafe class PagedAttention
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

    internal static int LanesOf(AttentionKernel kernel, int headDim) => kernel switch
    {
        AttentionKernel.Rows => 1,
        AttentionKernel.Lanes8 => 8,
        AttentionKernel.Lanes16 => 16,
        _ => headDim > MaxHeadDim ? 1
            : Vector512.IsHardwareAccelerated ? 16
            : Vector256.IsHardwareAccelerated ? 8
            : 1,
    };

    /// <summary>
    /// Attention of the plan's query rows <paramref name="q"/> [rows, QDim] over one layer's paged cache into
    /// <paramref name="att"/> [rows, QDim]. <paramref name="keys"/> and <paramref name="values"/> point at the layer's
    /// block 0; block b's slot s of a token is at (b * blockSize + s) * KvDim.
    /// </summary>
    public static void Run(AttentionPlan plan, float* keys, float* values, int blockSize, in AttentionShape shape,
        ReadOnlySpan<float> q, Span<float> att, WorkerPool pool)
    {
        if (blockSize > MaxBlockSize || shape.HeadDim > MaxHeadDim)
            throw new NotSupportedException($"block size {blockSize} or head dim {shape.HeadDim} exceeds the attention kernel's limits");

        fixed (float* qp = q, ap = att)
        fixed (int* items = plan.Items, chunkInfo = plan.ChunkInfo, tables = plan.Tables)
        {
            var body = new Body
            {
                Q = qp, Out = ap, Items = items, ChunkInfo = chunkInfo, Tables = tables,
                Keys = keys, Values = values, BlockSize = blockSize, Lanes = plan.Lanes, GroupSize = shape.GroupSize,
                HeadDim = shape.HeadDim, QDim = shape.QDim, KvDim = shape.KvDim, Scale = shape.Scale,
                SoftCap = shape.SoftCap, Window = shape.Window,
            };
            pool.Run(plan.ItemCount, ref body);
        }
    }

    private struct Body : IRangeBody
    {
        public float* Q, Out, Keys, Values;
        public int* Items, ChunkInfo, Tables;
        public int BlockSize, Lanes, GroupSize, HeadDim, QDim, KvDim, Window;
        public float Scale, SoftCap;

        public readonly float* KeyBlock(int block) => Keys + (long)block * BlockSize * KvDim;
        public readonly float* ValueBlock(int block) => Values + (long)block * BlockSize * KvDim;

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
        int w = TL.Width, hd = b.HeadDim, bs = b.BlockSize, kvDim = b.KvDim, kvHead = firstHead / b.GroupSize;
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
        int firstKey = b.Window > 0 ? Math.Max(0, pos - b.Window + 1) : 0;
        for (int blk = firstKey / bs; blk * bs <= pos; blk++)
        {
            int n = Math.Min(bs, pos + 1 - blk * bs);
            int padded = (n + w - 1) / w * w;
            int skip = firstKey - blk * bs;  // keys of the window's first block that fall before it (<= 0 elsewhere)
            float* keys = b.KeyBlock(table[blk]) + kvHead * hd;
            float* values = b.ValueBlock(table[blk]) + kvHead * hd;
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
                    // Rows of dots past m are stale; their lanes become -inf, whose exp is 0. Capping comes first, as
                    // it would turn -inf into -cap.
                    TV sc = TL.Mul(TL.SumEach(dots), scale);
                    if (b.SoftCap > 0f) sc = SoftCap<TL, TV>(sc, b.SoftCap);
                    sc = TL.MaskFrom(sc, m);
                    if (skip > t0) sc = TL.MaskBelow(sc, skip - t0);
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
        int hd = b.HeadDim, bs = b.BlockSize, kvDim = b.KvDim, kvHead = firstHead / b.GroupSize;
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
        int firstKey = b.Window > 0 ? Math.Max(0, pos - b.Window + 1) : 0;
        for (int blk = firstKey / bs; blk * bs <= pos; blk++)
        {
            int n = Math.Min(bs, pos + 1 - blk * bs);
            int t0 = Math.Max(0, firstKey - blk * bs);
            float* keys = b.KeyBlock(table[blk]) + kvHead * hd;
            float* values = b.ValueBlock(table[blk]) + kvHead * hd;
            for (int g = 0; g < heads; g++)
            {
                var qv = new ReadOnlySpan<float>(q + g * hd, hd);
                var a = new Span<float>(acc + g * hd, hd);
                float blockMax = float.NegativeInfinity;
                for (int t = t0; t < n; t++)
                {
                    float sc = TensorPrimitives.Dot(qv, new ReadOnlySpan<float>(keys + (long)t * kvDim, hd)) * b.Scale;
                    if (b.SoftCap > 0f) sc = b.SoftCap * MathF.Tanh(sc / b.SoftCap);
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
                for (int t = t0; t < n; t++)
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
        int w = TL.Width, hd = b.HeadDim, bs = b.BlockSize, group = b.GroupSize, kvDim = b.KvDim;
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
        TV positions = TL.Load(lanePos), negatedPositions = TL.Sub(TL.Splat(0f), positions);
        // A finite start: with a sliding window a lane may see no key of the first blocks (all -inf), and
        // exp(-inf - -inf) would be NaN; exp(MinValue - max) is 0 once a finite score comes.
        TV runMax = TL.Splat(float.MinValue), runSum = TL.Splat(0f);
        int firstBlock = b.Window > 0 ? Math.Max(0, minPos - b.Window + 1) / bs : 0;
        for (int blk = firstBlock, blockStart = firstBlock * bs; blockStart <= maxPos; blk++, blockStart += bs)
        {
            int n = Math.Min(bs, maxPos + 1 - blockStart);
            float* keys = b.KeyBlock(table[blk]) + kvHead * hd;
            float* values = b.ValueBlock(table[blk]) + kvHead * hd;

            Scores<TL, TV>(qt, keys, kvDim, hd, n, bs, p);
            if (b.SoftCap > 0f)
                for (int t = 0; t < n; t++) TL.Store(SoftCap<TL, TV>(TL.Load(p + t * w), b.SoftCap), p + t * w);

            // Causal mask: keys past a lane's own position. Slots past n may hold anything (never written, or a
            // previous owner's data): their scores are masked to -inf by a bitwise select, and V is read only below n.
            for (int t = Math.Max(0, minPos + 1 - blockStart); t < n; t++)
                TL.Store(TL.MaskAfter(TL.Load(p + t * w), positions, blockStart + t), p + t * w);
            // Window: keys at or before a lane's position - Window (lanePos > key + Window - 1, hence the negations).
            for (int t = 0; b.Window > 0 && t < n && blockStart + t + b.Window <= maxPos; t++)
                TL.Store(TL.MaskAfter(TL.Load(p + t * w), negatedPositions, -(blockStart + t + b.Window - 1)), p + t * w);

            TV blockMax = TL.Load(p);
            for (int t = 1; t < n; t++) blockMax = TL.Max(blockMax, TL.Load(p + t * w));
            TV newMax = TL.Max(runMax, blockMax);
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

    /// <summary>cap · tanh(v / cap), with tanh(y) = 1 - 2 / (exp(2y) + 1), which saturates cleanly to ±1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV SoftCap<TL, TV>(TV v, float cap) where TL : struct, ILaneOps<TV> where TV : struct
    {
        TV e = TL.Exp(TL.Mul(v, TL.Splat(2f / cap)));
        TV tanh = TL.Sub(TL.Splat(1f), TL.Div(TL.Splat(2f), TL.Add(e, TL.Splat(1f))));
        return TL.Mul(tanh, TL.Splat(cap));
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

