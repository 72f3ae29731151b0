using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Tests.Kernels;

public sealed unsafe class MatMulTests : IDisposable
{
    private readonly WorkerPool _pool3 = new(3);
    private readonly WorkerPool _pool2 = new(2);
    private readonly WorkerPool _pool1 = new(1);

    public void Dispose()
    {
        _pool3.Dispose();
        _pool2.Dispose();
        _pool1.Dispose();
    }

    public static TheoryData<GgmlType> AllTypes => new()
    {
        GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0,
        GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
    };

    [Theory]
    [InlineData(GgmlType.Q4_0, true)]
    [InlineData(GgmlType.Q6_K, true)]
    [InlineData(GgmlType.F16, false)]
    public void Prepare_makes_the_packed_copy_before_the_first_multiply_and_the_results_are_unchanged(GgmlType t, bool packs)
    {
        var c = Make(t, 16, 256, seed: 5);
        var x = Activations(3, 256, seed: 6);
        MatMul.Prepare(c.W);
        Assert.Equal(packs && PackedMatMul.IsSupported, c.W.PackedCopy is PackedWeights);
        var y = new float[3 * 16];
        MatMul.Multiply(c.W, x, y, 3, _pool2);
        AssertClose(c, x, y, 3);
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q6_K)]
    public void After_packing_hands_the_pages_back_a_row_lookup_reads_the_file_not_the_mapping(GgmlType t)
    {
        // The fake mapping scribbles over the pages it is handed back (as if they were gone) and serves reads
        // from a pristine copy: lookups must take that read, and multiplies the packed copy.
        const int rows = 16, cols = 256;
        var c = Make(t, rows, cols, seed: 11);
        var owner = new ScribblingMapping(c.W);
        var w = new WeightMatrix("w", t, rows, cols, c.W.Data, owner);
        MatMul.Prepare(w);
        Assert.Equal(PackedMatMul.IsSupported, owner.Released > 0);
        var row = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            MatMul.DequantizeRow(w, r, row);
            Assert.Equal(c.Dequantized[r], row);
        }
        var x = Activations(3, cols, seed: 12);
        var y = new float[3 * rows];
        MatMul.Multiply(w, x, y, 3, _pool2);
        AssertClose(c, x, y, 3);
    }

    /// <summary>An <see cref="IReleasableMapping"/> over a test matrix's bytes that fills released ranges with 0xFF.</summary>
    private sealed class ScribblingMapping(WeightMatrix original) : IReleasableMapping
    {
        private readonly byte[] _pristine = new ReadOnlySpan<byte>(original.Data, (int)original.TotalBytes).ToArray();
        private readonly object _keepAlive = original.Owner!;
        public long Released;

        public void ReleasePages(byte* start, long bytes)
        {
            GC.KeepAlive(_keepAlive);
            new Span<byte>(start, (int)bytes).Fill(0xFF);
            Released += bytes;
        }

        public void ReadWithoutMapping(byte* start, Span<byte> destination) =>
            _pristine.AsSpan((int)(start - original.Data), destination.Length).CopyTo(destination);
    }

    [Fact]
    public void Prepare_finds_a_bf16_matrix_row_maxima_where_its_batches_take_the_int16_panels()
    {
        const int rows = 16, cols = 256, n = 9;
        var c = Make(GgmlType.BF16, rows, cols, seed: 5);
        MatMul.Prepare(c.W);
        bool int16 = FloatGemm.RoundsToInt16(c.W, n);
        Assert.Equal(int16, c.W.RowMaxima is not null);
        if (int16)
            for (int r = 0; r < rows; r++) Assert.Equal(c.Dequantized[r].Max(MathF.Abs), c.W.RowMaxima![r]);
        var x = Activations(n, cols, seed: 6);
        var y = new float[n * rows];
        MatMul.Multiply(c.W, x, y, n, _pool2);
        AssertClose(c, x, y, n);
    }

    internal sealed record Case(WeightMatrix W, float[][] Dequantized);

    internal static Case Make(GgmlType t, int rows, int cols, int seed)
    {
        var rng = new Random(seed);
        int rowBytes = (int)GgmlTypeInfo.ByteCount(t, cols);
        var data = GC.AllocateArray<byte>(rows * rowBytes, pinned: true);
        var deq = new float[rows][];
        for (int r = 0; r < rows; r++)
        {
            var x = new float[cols];
            float scale = 0.02f + 0.1f * (float)rng.NextDouble(); // rows of different magnitude
            for (int i = 0; i < cols; i++) x[i] = scale * (float)(rng.NextDouble() * 2 - 1);
            var enc = GgmlReference.Quantize(t, x, rng);
            enc.CopyTo(data, r * rowBytes);
            deq[r] = GgmlReference.Dequantize(t, enc, cols);
        }
        fixed (byte* p = data) return new Case(new WeightMatrix("w", t, rows, cols, p, data), deq);
    }

    internal static float[] Activations(int n, int cols, int seed)
    {
        var rng = new Random(seed);
        var x = new float[n * cols];
        for (int i = 0; i < x.Length; i++)
        {
            // mostly small values with occasional outliers, as in real hidden states
            double v = rng.NextDouble() * 2 - 1;
            x[i] = (float)(rng.Next(50) == 0 ? v * 8 : v);
        }
        return x;
    }

    /// <summary>
    /// Compares y against a double-precision dot of the reference-dequantized weights with the unquantized x.
    /// Quantized types round each activation to a grid of step max|x_block| / 127, off by at most half a step, so
    /// |error| ≤ Σ_i |w_i| · max|x_block(i)| / 254 (block = 32 values, or 256 for k-quants); plus f32 rounding,
    /// bounded by 1e-4 · Σ|w_i·x_i|. BF16 batches on the int16 panels (FloatGemm.Int16.cs) round each activation to
    /// step max|x_block| / 2047 (blocks of 32) and each weight to step max|w_row| / 32767, so |error| ≤
    /// Σ_i |w_i| · max|x_block(i)| / 4094 + max|w_row| · Σ_i |x_i| / 65534 (plus the product of the two, below 1e-4).
    /// </summary>
    internal static void AssertClose(Case c, float[] x, float[] y, int n)
    {
        var w = c.W;
        int cols = w.Cols;
        bool int16 = FloatGemm.RoundsToInt16(w, n);
        int block = int16 ? 32 : w.Type is GgmlType.F32 or GgmlType.F16 or GgmlType.BF16 ? 0
            : GgmlTypeInfo.BlockSize(w.Type) == 256 ? 256 : 32;
        double levels = int16 ? 4094 : 254;
        for (int i = 0; i < n; i++)
        {
            var xi = x.AsSpan(i * cols, cols);
            for (int r = 0; r < w.Rows; r++)
            {
                double exact = 0, mag = 0, bound = 0, xabs = 0, wmax = 0;
                var wr = c.Dequantized[r];
                for (int b0 = 0; b0 < cols; b0 += Math.Max(block, 1))
                {
                    int len = Math.Max(block, 1);
                    double amax = 0, wabs = 0;
                    for (int j = b0; j < b0 + len; j++)
                    {
                        exact += (double)wr[j] * xi[j];
                        mag += Math.Abs((double)wr[j] * xi[j]);
                        amax = Math.Max(amax, Math.Abs(xi[j]));
                        wabs += Math.Abs(wr[j]);
                        xabs += Math.Abs(xi[j]);
                        wmax = Math.Max(wmax, Math.Abs(wr[j]));
                    }
                    if (block > 0) bound += wabs * amax / levels;
                }
                if (int16) bound += wmax * xabs / 65534;
                double tol = bound + 1e-4 * mag + 1e-6;
                double got = y[i * w.Rows + r];
                Assert.True(Math.Abs(got - exact) <= tol,
                    $"{w.Type} n={n} row {i} col {r}: got {got}, expected {exact} ± {tol}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Multiply_matches_reference_for_one_row(GgmlType t) => Check(t, rows: 37, cols: 512, n: 1);

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void Multiply_matches_reference_for_a_batch(GgmlType t) => Check(t, rows: 13, cols: 512, n: 7);

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.F16)]
    public void Multiply_handles_more_rows_than_one_activation_tile(GgmlType t) => Check(t, rows: 9, cols: 256, n: 70);

    [Theory]
    [InlineData(GgmlType.Q4_1)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.F32)]
    public void Multiply_handles_short_rows(GgmlType t) => Check(t, rows: 5, cols: 96, n: 3);

    [Theory]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)]
    [InlineData(GgmlType.BF16)]
    public void Multiply_handles_float_rows_that_are_not_a_multiple_of_the_vector_width(GgmlType t)
        => Check(t, rows: 10, cols: 1037, n: 6); // also spans two 512-column conversion chunks plus a tail

    public static TheoryData<GgmlType, int, int> FloatGemmShapes()
    {
        var data = new TheoryData<GgmlType, int, int>();
        foreach (var t in new[] { GgmlType.F32, GgmlType.F16, GgmlType.BF16 })
        {
            data.Add(t, 77, 300);  // a partial last weight vector (77 = 4·16 + 13), columns not a multiple of 16
            data.Add(t, 16, 16);   // exactly one vector, one transpose block
            data.Add(t, 200, 272); // ranges split into uneven panels; two column blocks of 136
            data.Add(t, 5, 1037);  // fewer rows than a vector; nine column blocks and a 13-column tail
            data.Add(t, 40, 24);   // AVX2: a 32-row panel and an 8-row partial strip; 24 columns = three 8 × 8 transposes
            data.Add(t, 33, 9);    // AVX2: two 16-row strips and a 1-row one; one 8-column transpose and a 1-column tail
        }
        // BF16 on the int16 panels (whole 32-column blocks): a partial last vector and two column blocks of 160;
        // one block; uneven panels and a 4 × 224 split of 896 columns; fewer rows than a vector and long rows.
        data.Add(GgmlType.BF16, 77, 320);
        data.Add(GgmlType.BF16, 16, 32);
        data.Add(GgmlType.BF16, 200, 896);
        data.Add(GgmlType.BF16, 5, 1024);
        return data;
    }

    [Theory]
    [MemberData(nameof(FloatGemmShapes))]
    public void Multiply_float_weights_matches_reference_for_every_batch_size_and_odd_shapes(GgmlType t, int rows, int cols)
    {
        // Small n takes the per-row kernels, larger n the packed GEMM (with AVX-512 from 8 rows for F16/BF16, 24 for
        // F32; on AVX2 from 2), whose last activation tile then holds 1..6 rows (13, 26, 27, 64, 11, 24; and 2, 3, 5,
        // 7, 8 on AVX2) against every panel width.
        var c = Make(t, rows, cols, seed: rows * 7 + cols);
        foreach (int n in new[] { 1, 2, 3, 5, 7, 8, 11, 13, 24, 26, 27, 64, 130 })
        {
            var x = Activations(n, cols, seed: n);
            foreach (var pool in new[] { _pool1, _pool2, _pool3 })
            {
                var y = new float[n * rows];
                y.AsSpan().Fill(float.NaN); // every output must be written, none accumulated onto stale values
                MatMul.Multiply(c.W, x, y, n, pool);
                AssertClose(c, x, y, n);
            }
        }
    }

    private void Check(GgmlType t, int rows, int cols, int n)
    {
        var c = Make(t, rows, cols, seed: (int)t * 101 + rows);
        var x = Activations(n, cols, seed: cols + n);
        foreach (bool scalar in new[] { false, true })
            foreach (var pool in new[] { _pool1, _pool3 })
            {
                var y = new float[n * rows];
                MatMul.Multiply(c.W, x, y, n, pool, forceScalar: scalar);
                AssertClose(c, x, y, n);
            }
    }

    [Fact]
    public void Bf16_batches_propagate_an_inf_or_nan_activation_or_weight()
    {
        // The int16 panels cannot represent either, so such a batch or matrix must take a path that propagates them:
        // the other rows stay within the reference bound, the affected outputs are not finite.
        const int n = 12, rows = 32, cols = 256;
        var c = Make(GgmlType.BF16, rows, cols, seed: 3);
        var x = Activations(n, cols, seed: 4);
        x[5 * cols + 17] = float.NaN;
        var y = new float[n * rows];
        MatMul.Multiply(c.W, x, y, n, _pool2);
        for (int r = 0; r < rows; r++) Assert.True(float.IsNaN(y[5 * rows + r]), $"output [5, {r}] = {y[5 * rows + r]}");
        var others = Enumerable.Range(0, n).Where(i => i != 5).ToArray();
        AssertClose(c, others.SelectMany(i => x.AsSpan(i * cols, cols).ToArray()).ToArray(),
            others.SelectMany(i => y.AsSpan(i * rows, rows).ToArray()).ToArray(), n - 1);

        x[5 * cols + 17] = 0.5f;
        var withInf = Make(GgmlType.BF16, rows, cols, seed: 3); // weights are read-only once multiplied: a fresh matrix
        ((ushort*)withInf.W.Row(3))[10] = 0x7f80; // +inf
        MatMul.Multiply(withInf.W, x, y, n, _pool2);
        for (int i = 0; i < n; i++)
            for (int r = 0; r < rows; r++)
                Assert.True(float.IsFinite(y[i * rows + r]) == (r != 3), $"output [{i}, {r}] = {y[i * rows + r]}");
    }

    [Fact]
    public void Bf16_batches_with_magnitudes_too_small_to_scale_keep_their_precision()
    {
        // The int16 panels scale by 32767 / max|w_row| and 2047 / max|x_block|, which overflow f32 below about 1e-34
        // and 6e-36: a weight row of ±2^-115 and an activation row of ±1e-37 must still come out right, relative to
        // their own tiny magnitudes (an absolute tolerance would pass anything).
        const int n = 9, rows = 20, cols = 128;
        var c = Make(GgmlType.BF16, rows, cols, seed: 8);
        for (int j = 0; j < cols; j++)
        {
            ((ushort*)c.W.Row(2))[j] = (ushort)(j % 3 == 0 ? 0x8600 : 0x0600); // ∓2^-115
            c.Dequantized[2][j] = j % 3 == 0 ? -MathF.ScaleB(1, -115) : MathF.ScaleB(1, -115);
        }
        var x = Activations(n, cols, seed: 9);
        var y = new float[n * rows];
        MatMul.Multiply(c.W, x, y, n, _pool2);
        for (int i = 0; i < n; i++) AssertRelative(c.Dequantized[2], x.AsSpan(i * cols, cols), y[i * rows + 2], $"weight row 2, activation row {i}");

        var fresh = Make(GgmlType.BF16, rows, cols, seed: 10);
        for (int j = 0; j < cols; j++) x[4 * cols + j] = j % 2 == 0 ? 1e-37f : -3e-37f;
        MatMul.Multiply(fresh.W, x, y, n, _pool2);
        for (int r = 0; r < rows; r++) AssertRelative(fresh.Dequantized[r], x.AsSpan(4 * cols, cols), y[4 * rows + r], $"activation row 4, weight row {r}");

        static void AssertRelative(float[] w, ReadOnlySpan<float> x, float got, string what)
        {
            double exact = 0, magnitude = 0;
            for (int j = 0; j < w.Length; j++)
            {
                exact += (double)w[j] * x[j];
                magnitude += Math.Abs((double)w[j] * x[j]);
            }
            Assert.True(Math.Abs(got - exact) <= 1e-3 * magnitude, $"{what}: got {got}, expected {exact} (Σ|w·x| = {magnitude})");
        }
    }

    [Fact]
    public void Scalar_and_simd_paths_agree_closely()
    {
        // Both paths round the activations identically and sum the same integers, so they differ only by f32
        // summation order, far below the quantization bound the reference test allows.
        foreach (var t in new[] { GgmlType.Q4_0, GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.BF16 })
        {
            var c = Make(t, 11, 512, 7);
            var x = Activations(5, 512, 3);
            var a = new float[5 * 11];
            var b = new float[5 * 11];
            MatMul.Multiply(c.W, x, a, 5, _pool3, forceScalar: false);
            MatMul.Multiply(c.W, x, b, 5, _pool1, forceScalar: true);
            for (int i = 0; i < a.Length; i++)
                Assert.True(Math.Abs(a[i] - b[i]) <= 1e-4 * (Math.Abs(b[i]) + 1), $"{t} [{i}]: {a[i]} vs {b[i]}");
        }
    }

    [Theory]
    [MemberData(nameof(AllTypes))]
    public void DequantizeRow_matches_reference(GgmlType t)
    {
        var c = Make(t, 4, 512, 42);
        var dst = new float[512];
        for (int r = 0; r < 4; r++)
        {
            MatMul.DequantizeRow(c.W, r, dst);
            for (int j = 0; j < 512; j++)
                Assert.True(Math.Abs(dst[j] - c.Dequantized[r][j]) <= 1e-6f * Math.Abs(c.Dequantized[r][j]) + 1e-30f,
                    $"{t} row {r} [{j}]: {dst[j]} vs {c.Dequantized[r][j]}");
        }
    }

    [Fact]
    public void Multiply_rejects_short_buffers_and_unknown_types()
    {
        var c = Make(GgmlType.Q4_0, 4, 64, 1);
        Assert.Throws<ArgumentException>(() => MatMul.Multiply(c.W, new float[64], new float[3], 1, _pool1));
        Assert.Throws<ArgumentException>(() => MatMul.Multiply(c.W, new float[63], new float[4], 1, _pool1));
        var data = GC.AllocateArray<byte>(4 * 64, pinned: true);
        fixed (byte* p = data)
        {
            var w = new WeightMatrix("i8", GgmlType.I8, 4, 64, p, data);
            Assert.Throws<NotSupportedException>(() => MatMul.Multiply(w, new float[64], new float[4], 1, _pool1));
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.F16)]
    public void Multiply_does_not_allocate_once_warm(GgmlType t)
    {
        var c = Make(t, 16, 512, 9);
        var x = Activations(9, 512, 9);
        var y = new float[9 * 16];
        void Warm()
        {
            foreach (int n in new[] { 1, 9 })
                for (int i = 0; i < 100; i++) MatMul.Multiply(c.W, x, y, n, _pool3); // JIT tiers, scratch growth
        }
        Warm();
        Thread.Sleep(200); // let background tier-1 compilation land
        Warm();
        // This thread's allocations: the test runner's own threads allocate in parallel, and the workers only
        // run kernel bodies (WorkerPool's own test checks that Run itself does not allocate). On a loaded machine the
        // runtime's one-time work (a late tier-up) can still land in a window, so up to three windows are measured:
        // an allocation per call (at least 24 bytes each, 9,600 per window) fails all three.
        long allocated = long.MaxValue;
        for (int window = 0; window < 3 && allocated >= 400; window++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 200; i++)
            {
                MatMul.Multiply(c.W, x, y, 1, _pool3);
                MatMul.Multiply(c.W, x, y, 9, _pool3);
            }
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Assert.True(allocated < 400, $"{allocated} bytes allocated over 400 calls, in each of three windows");
    }

    [Fact]
    public void Multiply_with_zero_activations_gives_zero()
    {
        var c = Make(GgmlType.Q4_1, 3, 64, 5);
        var y = new float[6];
        y.AsSpan().Fill(float.NaN);
        MatMul.Multiply(c.W, new float[128], y, 2, _pool3);
        Assert.All(y, v => Assert.Equal(0f, v));
    }
}

public sealed unsafe class MatMulNestingTests
{
    private struct PerHeadBody : IRangeBody
    {
        public WeightMatrix W;
        public float[] X, Y;
        public WorkerPool Pool;

        public void Invoke(int start, int end)
        {
            for (int h = start; h < end; h++)
                MatMul.Multiply(W, X.AsSpan(h * 2 * W.Cols, 2 * W.Cols), Y.AsSpan(h * 2 * W.Rows, 2 * W.Rows), 2, Pool);
        }
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q6_K)]
    [InlineData(GgmlType.F32)]
    [InlineData(GgmlType.F16)] // the plain call of 18 rows takes the packed GEMM
    public void Multiply_from_inside_a_pool_body_runs_inline_and_matches_a_plain_call(GgmlType t)
    {
        const int rows = 6, cols = 256, heads = 9;
        var rng = new Random(3);
        var values = new float[cols];
        int rowBytes = (int)GgmlTypeInfo.ByteCount(t, cols);
        var data = GC.AllocateArray<byte>(rows * rowBytes, pinned: true);
        for (int r = 0; r < rows; r++)
        {
            for (int i = 0; i < cols; i++) values[i] = (float)(rng.NextDouble() - 0.5);
            GgmlReference.Quantize(t, values, rng).CopyTo(data, r * rowBytes);
        }
        WeightMatrix w;
        fixed (byte* p = data) w = new WeightMatrix("w", t, rows, cols, p, data);
        var x = new float[heads * 2 * cols];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(rng.NextDouble() - 0.5);

        using var pool = new WorkerPool(3);
        var expected = new float[heads * 2 * rows];
        MatMul.Multiply(w, x, expected, heads * 2, pool);
        var body = new PerHeadBody { W = w, X = x, Y = new float[heads * 2 * rows], Pool = pool };
        pool.Run(heads, ref body);
        // The batched call may take a different kernel (and summation order) than the per-head calls of two rows.
        for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], body.Y[i], 1e-5);
    }
}
