using Inkwell.Runtime.Attention;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Tests.Attention;

/// <summary>
/// Every attention kernel against a plain causal softmax over each row's whole past, computed in double from the
/// sequence's keys and values in position order (no blocks, no online rescaling), with the sliding window and soft
/// cap applied there as their definitions say.
/// </summary>
public unsafe class PagedAttentionTests
{
    // (heads, KV heads, head dim): plain multi-head; GQA with a head dim that leaves tails in the 8-wide loops;
    // a group of 8 (two rows per 16-lane tile) with a head dim that the per-row kernel does 8 wide, not 16;
    // a group wider than a tile, so tiles split a row's heads; a group of 2 (decode per row) with a head dim that
    // only the portable per-row kernel takes.
    public static readonly (int Heads, int KvHeads, int HeadDim)[] Shapes = [(4, 4, 16), (6, 2, 12), (8, 1, 24), (24, 1, 6), (4, 2, 20)];

    // Kernel names, as AttentionKernel is internal; the lane kernels run (in software if need be) on any machine.
    public static TheoryData<string, int, int> KernelsBlocksShapes()
    {
        var data = new TheoryData<string, int, int>();
        foreach (var kernel in new[] { nameof(AttentionKernel.Rows), nameof(AttentionKernel.Lanes8), nameof(AttentionKernel.Lanes16) })
            foreach (int blockSize in new[] { 16, 32 })
                for (int shape = 0; shape < Shapes.Length; shape++) data.Add(kernel, blockSize, shape);
        return data;
    }

    [Theory]
    [MemberData(nameof(KernelsBlocksShapes))]
    public void Prefill_of_1_to_70_rows_from_position_0_and_from_a_later_position_matches_the_reference(string kernel, int blockSize, int shape)
    {
        var c = Config(Shapes[shape]);
        using var pool = new WorkerPool(2);
        var plan = new AttentionPlan();
        foreach (int start in new[] { 0, 37 })
        {
            for (int count = 1; count <= 70; count++)
            {
                var sequences = new[] { new Sequence(start, count, Seed: count * 131 + start) };
                var (maxError, where) = RunAndCompare(c, blockSize, Enum.Parse<AttentionKernel>(kernel), sequences, pool, plan);
                Assert.True(maxError < 2e-5, $"start {start}, {count} rows: error {maxError} at {where}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(KernelsBlocksShapes))]
    public void A_batch_of_prefill_and_decode_chunks_matches_the_reference(string kernel, int blockSize, int shape)
    {
        var c = Config(Shapes[shape]);
        using var pool = new WorkerPool(2);
        // Prefill from 0, a decode deep in its context, a prefill resuming mid-block, a decode at position 0, and a
        // long prefill crossing several blocks.
        Sequence[] sequences = [new(0, 23, 1), new(40, 1, 2), new(9, 17, 3), new(0, 1, 4), new(5, 64, 5)];
        var (maxError, where) = RunAndCompare(c, blockSize, Enum.Parse<AttentionKernel>(kernel), sequences, pool, new AttentionPlan());
        Assert.True(maxError < 2e-5, $"error {maxError} at {where}");
    }

    // Decode with grouped-query attention: every query head of a KV head in one pass over the cache.
    public static TheoryData<string, int, int, int> KernelsBlocksGroupsHeadDims()
    {
        var data = new TheoryData<string, int, int, int>();
        foreach (var kernel in new[] { nameof(AttentionKernel.Rows), nameof(AttentionKernel.Lanes8), nameof(AttentionKernel.Lanes16) })
            foreach (int blockSize in new[] { 16, 32 })
                foreach (int group in new[] { 1, 2, 4, 7, 8 })
                    foreach (int headDim in new[] { 64, 48, 18 })  // 18: no multiple of 8, the portable kernel
                        data.Add(kernel, blockSize, group, headDim);
        return data;
    }

    [Theory]
    [MemberData(nameof(KernelsBlocksGroupsHeadDims))]
    public void A_batch_of_decodes_at_different_lengths_matches_the_reference_for_every_group_size(string kernel, int blockSize, int group, int headDim)
    {
        var c = Config((2 * group, 2, headDim));
        using var pool = new WorkerPool(2);
        // Positions at block starts and ends, mid-block, and deep in the context; one prefill row in among them.
        Sequence[] sequences =
        [
            new(0, 1, 11), new(15, 1, 12), new(16, 1, 13), new(33, 1, 14), new(100, 1, 15), new(7, 3, 16), new(255, 1, 17), new(64, 1, 18),
        ];
        var (maxError, where) = RunAndCompare(c, blockSize, Enum.Parse<AttentionKernel>(kernel), sequences, pool, new AttentionPlan());
        Assert.True(maxError < 2e-5, $"error {maxError} at {where}");
    }

    // Windows narrower than a block, across block edges, and wider than most contexts here; with and without a cap.
    public static TheoryData<string, int, int, int, float> KernelsWindowsCaps()
    {
        var data = new TheoryData<string, int, int, int, float>();
        foreach (var kernel in new[] { nameof(AttentionKernel.Rows), nameof(AttentionKernel.Lanes8), nameof(AttentionKernel.Lanes16) })
            foreach (int shape in new[] { 0, 1, 2, 4 })
                foreach (var (window, cap) in new[] { (5, 0f), (16, 0f), (33, 2f), (0, 2f) })
                    data.Add(kernel, shape, window, 16, cap);
        return data;
    }

    [Theory]
    [MemberData(nameof(KernelsWindowsCaps))]
    public void Sliding_windows_and_soft_capping_match_the_reference_for_prefill_and_decode(string kernel, int shape, int window, int blockSize, float softCap)
    {
        var c = Config(Shapes[shape], window, softCap);
        using var pool = new WorkerPool(2);
        // Prefills from 0 and from mid-context (tiles whose rows start their windows in different blocks), decodes
        // deep in the context, at a block edge and at position 0.
        Sequence[] sequences = [new(0, 41, 1), new(70, 1, 2), new(23, 30, 3), new(0, 1, 4), new(47, 1, 5), new(31, 1, 6)];
        var (maxError, where) = RunAndCompare(c, blockSize, Enum.Parse<AttentionKernel>(kernel), sequences, pool, new AttentionPlan());
        Assert.True(maxError < 2e-5, $"error {maxError} at {where}");
    }

    [Fact]
    public void The_plan_puts_the_costliest_tiles_first_and_covers_every_lane_once()
    {
        var c = Config((6, 2, 12));
        var plan = new AttentionPlan();
        plan.Reset(c, AttentionKernel.Lanes16);
        plan.Add(50, 0, new int[4]);
        int group = 3, lanes = 50 * group;
        var seen = new int[c.KvHeadCount * lanes];
        int lastFirstLane = int.MaxValue;
        for (int i = 0; i < plan.ItemCount; i++)
        {
            int kvHead = plan.Items[i * 4 + 1], first = plan.Items[i * 4 + 2], count = plan.Items[i * 4 + 3];
            Assert.True(first <= lastFirstLane, "tiles must go from the last rows to the first");
            lastFirstLane = first;
            for (int j = first; j < first + count; j++) seen[kvHead * lanes + j]++;
        }
        Assert.All(seen, n => Assert.Equal(1, n));
        Assert.Equal(2 * ((lanes + 15) / 16), plan.ItemCount);
    }

    private readonly record struct Sequence(int Start, int Count, int Seed);

    private static AttentionShape Config((int Heads, int KvHeads, int HeadDim) s, int window = 0, float softCap = 0f) =>
        new(s.Heads, s.KvHeads, s.HeadDim, 1f / MathF.Sqrt(s.HeadDim), softCap, window);

    /// <summary>Fills a cache (unused slots NaN, blocks in shuffled order), runs the kernel, and returns the largest error.</summary>
    private static (double MaxError, string Where) RunAndCompare(AttentionShape c, int blockSize, AttentionKernel kernel,
        Sequence[] sequences, WorkerPool pool, AttentionPlan plan)
    {
        int kvDim = c.KvDim, qDim = c.QDim, hd = c.HeadDim, group = c.HeadCount / c.KvHeadCount;
        int blockCount = sequences.Sum(s => (s.Start + s.Count + blockSize - 1) / blockSize) + 3;
        var keyCache = GC.AllocateArray<float>(blockCount * blockSize * kvDim, pinned: true);
        var valueCache = GC.AllocateArray<float>(blockCount * blockSize * kvDim, pinned: true);
        keyCache.AsSpan().Fill(float.NaN);
        valueCache.AsSpan().Fill(float.NaN);

        // Hand out blocks in a scrambled order so tables are not the identity.
        var free = Enumerable.Range(0, blockCount).OrderBy(b => (b * 7919) % 13).ToList();
        plan.Reset(c, kernel);
        var keys = new float[sequences.Length][];
        var values = new float[sequences.Length][];
        int rows = sequences.Sum(s => s.Count);
        var q = new float[rows * qDim];
        var rng = new Random(sequences[0].Seed);
        int row0 = 0;
        for (int si = 0; si < sequences.Length; si++)
        {
            var s = sequences[si];
            int length = s.Start + s.Count;
            var table = new int[(length + blockSize - 1) / blockSize];
            for (int b = 0; b < table.Length; b++) { table[b] = free[0]; free.RemoveAt(0); }
            keys[si] = RandomArray(rng, length * kvDim, 1.5f);
            values[si] = RandomArray(rng, length * kvDim, 1f);
            for (int pos = 0; pos < length; pos++)
            {
                int slot = (table[pos / blockSize] * blockSize + pos % blockSize) * kvDim;
                keys[si].AsSpan(pos * kvDim, kvDim).CopyTo(keyCache.AsSpan(slot));
                values[si].AsSpan(pos * kvDim, kvDim).CopyTo(valueCache.AsSpan(slot));
            }
            RandomArray(rng, s.Count * qDim, 1.5f).CopyTo(q, row0 * qDim);
            plan.Add(s.Count, s.Start, table);
            row0 += s.Count;
        }

        var att = new float[rows * qDim];
        att.AsSpan().Fill(float.NaN);
        fixed (float* kp = keyCache, vp = valueCache) PagedAttention.Run(plan, kp, vp, blockSize, c, q, att, pool);

        double maxError = 0;
        string where = "";
        var expected = new double[hd];
        row0 = 0;
        for (int si = 0; si < sequences.Length; si++)
        {
            var s = sequences[si];
            for (int i = 0; i < s.Count; i++)
            {
                int row = row0 + i, pos = s.Start + i;
                for (int h = 0; h < c.HeadCount; h++)
                {
                    ReferenceAttention(c, q.AsSpan(row * qDim + h * hd, hd), keys[si], values[si], pos, (h / group) * hd, expected);
                    for (int d = 0; d < hd; d++)
                    {
                        double error = Math.Abs(att[row * qDim + h * hd + d] - expected[d]);
                        if (!(error <= maxError))  // NaN counts as the worst error
                        {
                            maxError = double.IsNaN(error) ? double.PositiveInfinity : error;
                            where = $"sequence {si}, row {i}, head {h}, d {d}";
                        }
                    }
                }
            }
            row0 += s.Count;
        }
        return (maxError, where);
    }

    /// <summary>softmax(q·kᵀ / sqrt(d)) · v over positions 0..pos, in double.</summary>
    /// <summary>softmax(cap(q·kᵀ · scale)) · v over the positions the query sees (its window, else 0..pos), in double.</summary>
    private static void ReferenceAttention(AttentionShape c, ReadOnlySpan<float> q, float[] keys, float[] values, int pos, int offset, double[] output)
    {
        int hd = q.Length, kvDim = c.KvDim;
        int first = c.Window > 0 ? Math.Max(0, pos - c.Window + 1) : 0;
        var scores = new double[pos + 1 - first];
        for (int t = first; t <= pos; t++)
        {
            double dot = 0;
            for (int d = 0; d < hd; d++) dot += (double)q[d] * keys[t * kvDim + offset + d];
            double score = dot * c.Scale;
            scores[t - first] = c.SoftCap > 0 ? c.SoftCap * Math.Tanh(score / c.SoftCap) : score;
        }
        double max = scores.Max(), sum = 0;
        for (int t = 0; t < scores.Length; t++) sum += scores[t] = Math.Exp(scores[t] - max);
        Array.Clear(output);
        for (int t = first; t <= pos; t++)
            for (int d = 0; d < hd; d++) output[d] += scores[t - first] / sum * values[t * kvDim + offset + d];
    }

    private static float[] RandomArray(Random rng, int n, float scale)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }
}
