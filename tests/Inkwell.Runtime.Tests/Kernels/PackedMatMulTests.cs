using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Tests.Kernels;

/// <summary>
/// The row-interleaved Q4_0 / Q5_0 / Q8_0 / Q4_K / Q5_K / Q6_K path (PackedMatMul) against the portable scalar kernels
/// and the ggml reference. It runs with AVX-VNNI (vpdpbusd) and on AVX2 alone (vpmaddubsw; ./test runs this class a
/// second time with AVX-512 and VNNI off); rows % 8 != 0 check the unpacked fallback.
/// </summary>
public sealed unsafe class PackedMatMulTests : IDisposable
{
    private readonly WorkerPool _pool1 = new(1);
    private readonly WorkerPool _pool2 = new(2);
    private readonly WorkerPool _pool3 = new(3);

    public void Dispose()
    {
        _pool1.Dispose();
        _pool2.Dispose();
        _pool3.Dispose();
    }

    public static TheoryData<GgmlType, int, int, int> Shapes()
    {
        var data = new TheoryData<GgmlType, int, int, int>();
        foreach (var t in new[] { GgmlType.Q4_0, GgmlType.Q5_0, GgmlType.Q8_0 })
        {
            data.Add(t, 8, 32, 1);      // one group, one block
            data.Add(t, 16, 64, 12);    // a full tile of 8 activation rows and a remainder of 4
            data.Add(t, 24, 96, 3);
            data.Add(t, 40, 288, 5);
            data.Add(t, 8, 4096, 6);    // several K chunks
            data.Add(t, 32, 2080, 7);   // a partial last K chunk
            data.Add(t, 48, 2080, 1);   // decode: one activation row, every block of a group in one pass
            data.Add(t, 64, 768, 130);  // many tiles, remainder 2
            data.Add(t, 13, 96, 9);     // rows not a multiple of 8: the unpacked path
            data.Add(t, 20, 64, 5);
            data.Add(t, 8, 32, 130);    // the smallest matrix under many tiles
            data.Add(t, 40, 160, 17);   // an odd block count under a full tile and a remainder of 1
        }
        foreach (var t in new[] { GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K })
        {
            data.Add(t, 8, 256, 1);     // one group, one super-block
            data.Add(t, 16, 512, 12);   // a full tile of 8 activation rows and a remainder of 4
            data.Add(t, 24, 768, 130);  // many tiles, remainder 2
            data.Add(t, 8, 4096, 6);    // several K chunks
            data.Add(t, 32, 1280, 7);   // a partial last K chunk
            data.Add(t, 48, 2304, 1);   // decode: one activation row, every super-block of a group in one pass
            data.Add(t, 64, 2048, 16);
            data.Add(t, 13, 768, 9);    // rows not a multiple of 8: the unpacked path
            data.Add(t, 20, 256, 1);
        }
        return data;
    }

    /// <summary>
    /// Packed (where it applies) against the scalar kernels, tight because the activation rounding and the integer
    /// sums are the same and only f32 summation order differs, and against the reference, bounded; on pools of 1, 2
    /// and 3 threads. Returns the matrix so callers can check what was packed.
    /// </summary>
    private WeightMatrix Check(GgmlType t, int rows, int cols, int n, int weightSeed, int activationSeed)
    {
        var c = MatMulTests.Make(t, rows, cols, weightSeed);
        var x = MatMulTests.Activations(n, cols, activationSeed);
        bool packs = PackedMatMul.IsSupported && rows % 8 == 0;
        Assert.Equal(packs, PackedMatMul.Applies(c.W));
        var expected = new float[n * rows];
        MatMul.Multiply(c.W, x, expected, n, _pool1, forceScalar: true);
        foreach (var pool in new[] { _pool1, _pool2, _pool3 })
        {
            var y = new float[n * rows];
            MatMul.Multiply(c.W, x, y, n, pool);
            MatMulTests.AssertClose(c, x, y, n);
            for (int i = 0; i < y.Length; i++)
                Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-4 * (Math.Abs(expected[i]) + 1),
                    $"{t} {rows}x{cols} n={n} [{i}]: {y[i]} vs scalar {expected[i]}");
        }
        return c.W;
    }

    private void CheckK(GgmlType t, int rows, int cols, int n, int seed) => Check(t, rows, cols, n, seed, seed + 1);

    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void K_quants_match_for_every_column_count_up_to_4096(GgmlType t)
    {
        for (int cols = 256; cols <= 4096; cols += 256)
            CheckK(t, 16, cols, n: 1 + cols / 256 % 11, seed: cols); // n = 1..11 across the sizes
    }

    [Theory]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void K_quants_match_for_every_batch_size_up_to_130(GgmlType t)
    {
        for (int n = 1; n <= 130; n++)
            CheckK(t, 8, 512, n, seed: n);
    }

    [Fact]
    public void Q8_0_matches_for_every_batch_size_up_to_130()
    {
        for (int n = 1; n <= 130; n++)
            Check(GgmlType.Q8_0, 16, 96 + 32 * (n % 5), n, weightSeed: n, activationSeed: n + 1);
    }

    /// <summary>
    /// Q8_0 blocks of the extreme codes −128 and 127 (scale 1) against activations of ±1, which quantize exactly to
    /// ±127 with scale 1/127: every product reaches 128·127, so a pair sum is 32512 and any two of them overflow i16,
    /// which is where a 16-bit shortcut on the vpmaddubsw path would show. Expected: the dot of the dequantized
    /// weights and x, in doubles (the quantized path is exact here up to f32 rounding).
    /// </summary>
    [Theory]
    [InlineData(16, 256, 1)]
    [InlineData(16, 256, 3)]
    [InlineData(24, 96, 9)]
    [InlineData(8, 1024, 130)]
    [InlineData(12, 64, 5)] // rows not a multiple of 8: the unpacked kernels
    public void Q8_0_extreme_codes_against_extreme_activations_are_exact(int rows, int cols, int n)
    {
        var rng = new Random(rows * 1000 + n);
        int rowBytes = (int)GgmlTypeInfo.ByteCount(GgmlType.Q8_0, cols);
        var data = GC.AllocateArray<byte>(rows * rowBytes, pinned: true);
        var codes = new sbyte[rows, cols];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < cols; i++)
                codes[r, i] = r switch
                {
                    0 => -128,
                    1 => 127,
                    2 => (sbyte)(i % 2 == 0 ? -128 : 127),
                    _ => (sbyte)(rng.Next(8) switch { 0 => 0, 1 => rng.Next(-128, 128), < 5 => -128, _ => 127 }),
                };
        for (int r = 0; r < rows; r++)
            for (int b = 0; b < cols / 32; b++)
            {
                int at = r * rowBytes + 34 * b;
                data[at] = 0x00; // f16 1.0
                data[at + 1] = 0x3c;
                for (int i = 0; i < 32; i++) data[at + 2 + i] = (byte)codes[r, 32 * b + i];
            }
        WeightMatrix w;
        fixed (byte* p = data) w = new WeightMatrix("extreme", GgmlType.Q8_0, rows, cols, p, data);
        // Activation row 0 has every product of weight row 0 positive, row 1 those of weight row 1 (the largest
        // sums); the rest mix signs at random.
        var x = new float[n * cols];
        for (int k = 0; k < n; k++)
            for (int i = 0; i < cols; i++)
                x[k * cols + i] = k switch { 0 => -1f, 1 => 1f, _ => rng.Next(2) == 0 ? -1f : 1f };
        foreach (var pool in new[] { _pool1, _pool2, _pool3 })
        {
            var y = new float[n * rows];
            MatMul.Multiply(w, x, y, n, pool);
            for (int k = 0; k < n; k++)
                for (int r = 0; r < rows; r++)
                {
                    double exact = 0;
                    for (int i = 0; i < cols; i++) exact += codes[r, i] * (double)x[k * cols + i];
                    float got = y[k * rows + r];
                    Assert.True(Math.Abs(got - exact) <= 1e-5 * Math.Abs(exact) + 1e-3,
                        $"{rows}x{cols} n={n} threads={pool.ThreadCount} y[{k}, {r}] = {got}, expected {exact}");
                }
        }
        Assert.Equal(PackedMatMul.IsSupported && rows % 8 == 0, w.PackedCopy is PackedWeights);
    }

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Multiply_matches_the_scalar_kernels_and_the_reference(GgmlType t, int rows, int cols, int n)
    {
        var w = Check(t, rows, cols, n, weightSeed: rows * 31 + cols + n, activationSeed: cols + 7 * n);
        Assert.Equal(PackedMatMul.Applies(w), w.PackedCopy is PackedWeights);
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q8_0)]
    public void Subnormal_and_negative_block_scales_convert_exactly(GgmlType t)
    {
        // Values around 3e-5 give f16 block scales below 2^-14 (subnormal); Q4_0's scale is negative whenever
        // the block's largest-magnitude value is positive.
        const int rows = 16, cols = 256, n = 3;
        var rng = new Random(5);
        int rowBytes = (int)GgmlTypeInfo.ByteCount(t, cols);
        var data = GC.AllocateArray<byte>(rows * rowBytes, pinned: true);
        var values = new float[cols];
        for (int r = 0; r < rows; r++)
        {
            float scale = r % 2 == 0 ? 3e-5f : 1f;
            for (int i = 0; i < cols; i++) values[i] = scale * (float)(rng.NextDouble() * 2 - 1);
            GgmlReference.Quantize(t, values, rng).CopyTo(data, r * rowBytes);
        }
        WeightMatrix w;
        fixed (byte* p = data) w = new WeightMatrix("tiny", t, rows, cols, p, data);
        var x = MatMulTests.Activations(n, cols, 11);
        var expected = new float[n * rows];
        var y = new float[n * rows];
        MatMul.Multiply(w, x, expected, n, _pool1, forceScalar: true);
        MatMul.Multiply(w, x, y, n, _pool2);
        // A wrong subnormal conversion is off by a power of two (or flushed to 0); summation order by far less.
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-3 * Math.Abs(expected[i]) + 1e-10,
                $"{t} [{i}]: {y[i]} vs scalar {expected[i]}");
        Assert.Contains(y, v => v != 0 && Math.Abs(v) < 1e-3); // the tiny rows really were tiny, not flushed
    }

    [Theory]
    [InlineData(GgmlType.Q4_K, 2)]   // dmin of super-block 1
    [InlineData(GgmlType.Q5_K, 0)]   // d
    [InlineData(GgmlType.Q6_K, 208)] // d
    public void A_k_quant_matrix_with_an_infinite_scale_stays_on_the_unpacked_path(GgmlType t, int offset)
    {
        var c = MatMulTests.Make(t, 8, 512, 3);
        int blockBytes = GgmlTypeInfo.BlockBytes(t);
        c.W.Data[blockBytes + offset] = 0x00; // row 0, super-block 1: f16 0x7c00 = +inf
        c.W.Data[blockBytes + offset + 1] = 0x7c;
        var y = new float[8];
        MatMul.Multiply(c.W, MatMulTests.Activations(1, 512, 1), y, 1, _pool1);
        Assert.Null(PackedMatMul.Packed(c.W));
        Assert.True(float.IsInfinity(y[0]) || float.IsNaN(y[0]));
        Assert.All(y[1..], v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void A_matrix_with_an_infinite_block_scale_stays_on_the_unpacked_path()
    {
        // Q4_0 (Q5_0 and Q8_0 share this check).
        var c = MatMulTests.Make(GgmlType.Q4_0, 8, 64, 3);
        c.W.Data[18] = 0x00; // row 0, block 1: f16 0x7c00 = +inf
        c.W.Data[19] = 0x7c;
        var y = new float[8];
        MatMul.Multiply(c.W, MatMulTests.Activations(1, 64, 1), y, 1, _pool1);
        Assert.Null(PackedMatMul.Packed(c.W));
        Assert.True(float.IsInfinity(y[0]) || float.IsNaN(y[0]));
        Assert.All(y[1..], v => Assert.True(float.IsFinite(v)));
    }

    [Theory]
    [InlineData(GgmlType.Q4_0)]
    [InlineData(GgmlType.Q5_0)]
    [InlineData(GgmlType.Q8_0)]
    [InlineData(GgmlType.Q4_K)]
    [InlineData(GgmlType.Q5_K)]
    [InlineData(GgmlType.Q6_K)]
    public void DequantizeRow_still_reads_the_original_rows_after_packing(GgmlType t)
    {
        var c = MatMulTests.Make(t, 16, 256, 8);
        MatMul.Multiply(c.W, MatMulTests.Activations(2, 256, 2), new float[32], 2, _pool2);
        var dst = new float[256];
        for (int r = 0; r < 16; r++)
        {
            MatMul.DequantizeRow(c.W, r, dst);
            Assert.Equal(c.Dequantized[r], dst);
        }
    }

    [Fact]
    public void Concurrent_first_calls_agree_and_keep_one_packed_copy()
    {
        var c = MatMulTests.Make(GgmlType.Q4_0, 64, 512, 4);
        var x = MatMulTests.Activations(5, 512, 4);
        var results = new float[8][];
        Parallel.For(0, results.Length, k =>
        {
            using var pool = new WorkerPool(1);
            results[k] = new float[5 * 64];
            MatMul.Multiply(c.W, x, results[k], 5, pool);
        });
        foreach (var r in results) Assert.Equal(results[0], r);
        var first = c.W.PackedCopy;
        MatMul.Multiply(c.W, x, new float[5 * 64], 5, _pool1);
        Assert.Same(first, c.W.PackedCopy);
    }

    private sealed class RecordingMapping(byte[] data) : IReleasableMapping
    {
        public readonly byte[] Data = data; // keeps the pinned rows alive
        public readonly List<(long Start, long Bytes)> Calls = new();
        public void ReleasePages(byte* start, long bytes) => Calls.Add(((long)start, bytes));
        public void ReadWithoutMapping(byte* start, Span<byte> destination) => new ReadOnlySpan<byte>(start, destination.Length).CopyTo(destination);
    }

    [Fact]
    public void Packing_hands_the_source_pages_back_as_it_goes()
    {
        const int rows = 128, cols = 16384; // 2.2 MB of Q8_0: more than two release strides
        int rowBytes = (int)GgmlTypeInfo.ByteCount(GgmlType.Q8_0, cols);
        var data = GC.AllocateArray<byte>(rows * rowBytes, pinned: true);
        for (int i = 0; i < data.Length; i += 34) data[i + 1] = 0x3c; // f16 1.0 scales, zero codes
        var mapping = new RecordingMapping(data);
        WeightMatrix w;
        fixed (byte* p = data) w = new WeightMatrix("w", GgmlType.Q8_0, rows, cols, p, mapping);
        MatMul.Multiply(w, new float[cols], new float[rows], 1, _pool1);
        if (!PackedMatMul.Applies(w))
        {
            Assert.Empty(mapping.Calls); // the unpacked path keeps reading the source
            return;
        }
        Assert.True(mapping.Calls.Count >= 2, $"{mapping.Calls.Count} release calls");
        // Consecutive, overlapping by less than a page, from the first byte to the last.
        long begin = (long)w.Data, end = begin + w.TotalBytes;
        Assert.Equal(begin, mapping.Calls[0].Start);
        Assert.Equal(end, mapping.Calls[^1].Start + mapping.Calls[^1].Bytes);
        for (int k = 1; k < mapping.Calls.Count; k++)
        {
            long previousEnd = mapping.Calls[k - 1].Start + mapping.Calls[k - 1].Bytes;
            Assert.InRange(previousEnd - mapping.Calls[k].Start, 0, Environment.SystemPageSize - 1);
        }
    }

    private struct PerHeadBody : IRangeBody
    {
        public WeightMatrix W;
        public float[] X, Y;
        public WorkerPool Pool;

        public void Invoke(int start, int end)
        {
            for (int h = start; h < end; h++)
                MatMul.Multiply(W, X.AsSpan(h * 3 * W.Cols, 3 * W.Cols), Y.AsSpan(h * 3 * W.Rows, 3 * W.Rows), 3, Pool);
        }
    }

    [Fact]
    public void Multiply_from_inside_a_pool_body_matches_a_plain_call()
    {
        const int heads = 5;
        var c = MatMulTests.Make(GgmlType.Q8_0, 24, 256, 6);
        var x = MatMulTests.Activations(heads * 3, 256, 6);
        var expected = new float[heads * 3 * 24];
        MatMul.Multiply(c.W, x, expected, heads * 3, _pool2);
        var body = new PerHeadBody { W = c.W, X = x, Y = new float[expected.Length], Pool = _pool2 };
        _pool2.Run(heads, ref body);
        // Equal up to summation order: where the unpacked kernels run they group rows by 4, so 3-row calls round differently.
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - body.Y[i]) <= 1e-5f * Math.Max(1f, Math.Abs(expected[i])), $"y[{i}] = {body.Y[i]}, expected {expected[i]}");
    }
}
