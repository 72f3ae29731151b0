using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Runtime.Tests.Kernels;

/// <summary>
/// The decode (one activation row) kernels for float weights, against a double-precision dot of the weights as
/// .NET's own Half/bf16 decoding gives them: both vector widths called directly (so an AVX-512 machine also checks
/// the AVX2 kernel), every encoding, odd lengths; and through MatMul with inf/NaN weights.
/// </summary>
public sealed unsafe class FloatGemvTests : IDisposable
{
    private readonly WorkerPool _pool1 = new(1);
    private readonly WorkerPool _pool3 = new(3);

    public void Dispose()
    {
        _pool1.Dispose();
        _pool3.Dispose();
    }

    /// <summary>Row bits for a weight type from f32 values (round to nearest, as ggml's converters).</summary>
    private static ushort[] Encode(GgmlType t, float[] v) => t == GgmlType.F16
        ? v.Select(f => BitConverter.HalfToUInt16Bits((Half)f)).ToArray()
        : v.Select(f => (ushort)(BitConverter.SingleToUInt32Bits(f) >> 16)).ToArray(); // bf16: values below are exact

    private static double Decode(GgmlType t, ushort bits) => t == GgmlType.F16
        ? (double)BitConverter.UInt16BitsToHalf(bits)
        : BitConverter.Int32BitsToSingle(bits << 16);

    /// <summary>Weights over f16's whole range: zeros of both signs, subnormals, the largest finite, ordinary values.</summary>
    private static float[] Weights(int count, Random rng)
    {
        var w = new float[count];
        for (int i = 0; i < count; i++)
        {
            w[i] = (i % 11) switch
            {
                0 => 0f,
                1 => -0f,
                2 => (float)((rng.NextDouble() - 0.5) * 1e-4), // f16 subnormals (below 6.1e-5)
                3 => rng.Next(2) == 0 ? 65504f : -65504f,
                4 => (float)BitConverter.UInt16BitsToHalf(1), // the smallest f16 subnormal, 2^-24
                _ => (float)((rng.NextDouble() - 0.5) * 0.2),
            };
        }
        return w;
    }

    private static float[] Activations(int count, Random rng)
    {
        var x = new float[count];
        for (int i = 0; i < count; i++)
            x[i] = (i % 7) switch
            {
                0 => (float)((rng.NextDouble() - 0.5) * 2e4), // outliers: products up to ~6.5e8
                1 => (float)((rng.NextDouble() - 0.5) * 1e-20), // tiny: products far below f16's range
                _ => (float)(rng.NextDouble() * 2 - 1),
            };
        return x;
    }

    public static TheoryData<int> Lengths => new() { 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 80, 100, 1037 };

    [Theory]
    [MemberData(nameof(Lengths))]
    public void Both_widths_match_a_double_dot_for_every_encoding(int cols)
    {
        if (!MatMul.IsAccelerated) return;
        var rng = new Random(cols);
        const int rows = 4;
        var x = Activations(cols, rng);
        foreach (var t in new[] { GgmlType.F16, GgmlType.BF16, GgmlType.F32 })
        {
            var values = Weights(rows * cols, rng);
            byte[] data;
            var exact = new double[rows];
            var magnitude = new double[rows];
            if (t == GgmlType.F32)
            {
                data = new byte[values.Length * 4];
                Buffer.BlockCopy(values, 0, data, 0, data.Length);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                    {
                        exact[r] += (double)values[r * cols + c] * x[c];
                        magnitude[r] += Math.Abs((double)values[r * cols + c] * x[c]);
                    }
            }
            else
            {
                if (t == GgmlType.BF16) // keep bf16's values exact: truncate f16-range values to 8 mantissa bits
                    for (int i = 0; i < values.Length; i++)
                        values[i] = BitConverter.Int32BitsToSingle((int)(BitConverter.SingleToUInt32Bits(values[i]) & 0xffff0000));
                var bits = Encode(t, values);
                data = new byte[bits.Length * 2];
                Buffer.BlockCopy(bits, 0, data, 0, data.Length);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                    {
                        double p = Decode(t, bits[r * cols + c]) * x[c];
                        exact[r] += p;
                        magnitude[r] += Math.Abs(p);
                    }
            }
            long rowBytes = (long)data.Length / rows;
            fixed (byte* w = data)
            fixed (float* px = x)
            {
                foreach (bool wide in new[] { false, true })
                {
                    if (wide && !(Avx512F.IsSupported && Vector512.IsHardwareAccelerated)) continue;
                    for (int r = 0; r < rows; r++)
                    {
                        float got = Dot(t, wide, w + r * rowBytes, cols, px);
                        double tol = 1e-5 * magnitude[r] + 1e-30;
                        Assert.True(Math.Abs(got - exact[r]) <= tol,
                            $"{t} cols={cols} wide={wide} row {r}: got {got}, expected {exact[r]} ± {tol}");
                    }
                }
            }
        }
    }

    /// <summary>
    /// Calls one kernel directly: F16 through the finite-only conversion (these weights are all finite), whose vector
    /// steps read the activations scaled as FloatGemv.Multiply scales them.
    /// </summary>
    private static float Dot(GgmlType t, bool wide, byte* w, int cols, float* x)
    {
        switch (t, wide)
        {
            case (GgmlType.BF16, true): return FloatGemv.Dot512<FromBF16>(w, cols, x, x, 0);
            case (GgmlType.BF16, false): return FloatGemv.Dot256<FromBF16>(w, cols, x, x, 0);
            case (GgmlType.F32, true): return FloatGemv.Dot512<FromF32>(w, cols, x, x, 0);
            case (GgmlType.F32, false): return FloatGemv.Dot256<FromF32>(w, cols, x, x, 0);
        }
        var scaled = new float[cols];
        for (int c = 0; c < cols; c++) scaled[c] = x[c] * FromFiniteF16.ActivationScale;
        fixed (float* xs = scaled)
            return wide ? FloatGemv.Dot512<FromFiniteF16>(w, cols, x, xs, 0) : FloatGemv.Dot256<FromFiniteF16>(w, cols, x, xs, 0);
    }

    /// <summary>
    /// Rows longer than a column block, through MatMul on a pool: every block's partial dot lands in y (the first
    /// stored, the later added), for each encoding, with tails inside the last block; an f16 matrix with one NaN in
    /// its second block takes the exact conversion there.
    /// </summary>
    [Theory]
    [InlineData(2049)]
    [InlineData(4096)]
    [InlineData(4097)]
    [InlineData(5639)]
    [InlineData(8192)]
    public void Rows_longer_than_a_column_block_sum_every_block(int cols)
    {
        const int rows = 6;
        var rng = new Random(cols);
        var x = Activations(cols, rng);
        foreach (var (t, poisoned) in new[] { (GgmlType.F16, false), (GgmlType.F16, true), (GgmlType.BF16, false), (GgmlType.F32, false) })
        {
            var values = Weights(rows * cols, rng);
            if (t == GgmlType.BF16)
                for (int i = 0; i < values.Length; i++)
                    values[i] = BitConverter.Int32BitsToSingle((int)(BitConverter.SingleToUInt32Bits(values[i]) & 0xffff0000));
            byte[] data;
            Func<int, double> weight;
            if (t == GgmlType.F32)
            {
                data = GC.AllocateArray<byte>(values.Length * 4, pinned: true);
                Buffer.BlockCopy(values, 0, data, 0, data.Length);
                weight = i => values[i];
            }
            else
            {
                var bits = Encode(t, values);
                if (poisoned) bits[3 * cols + Math.Min(cols - 1, FloatGemv.MaxBlockColumns + 5)] = 0x7e00;
                data = GC.AllocateArray<byte>(bits.Length * 2, pinned: true);
                Buffer.BlockCopy(bits, 0, data, 0, data.Length);
                weight = i => Decode(t, bits[i]);
            }
            WeightMatrix w;
            fixed (byte* p = data) w = new WeightMatrix("w", t, rows, cols, p, data);
            var y = new float[rows];
            // The column blocks are the SIMD kernels'; the portable ones must meet the same reference.
            foreach (bool scalar in new[] { false, true })
            {
                y.AsSpan().Fill(float.MaxValue); // an output left unwritten fails the check, even a NaN one
                MatMul.Multiply(w, x, y, 1, _pool3, forceScalar: scalar);
                for (int r = 0; r < rows; r++)
                {
                    double exact = 0, magnitude = 0;
                    for (int c = 0; c < cols; c++)
                    {
                        double prod = weight(r * cols + c) * x[c];
                        exact += prod;
                        magnitude += Math.Abs(prod);
                    }
                    if (double.IsNaN(exact)) Assert.True(float.IsNaN(y[r]), $"{t} cols={cols} row {r} scalar={scalar}: {y[r]}, expected NaN");
                    else Assert.True(Math.Abs(y[r] - exact) <= 1e-5 * magnitude + 1e-30, $"{t} cols={cols} row {r} scalar={scalar}: {y[r]} vs {exact}");
                }
            }
        }
    }

    [Fact]
    public void Column_blocks_are_even_whole_steps_of_at_most_the_maximum()
    {
        for (int cols = 1; cols <= 20_000; cols++)
        {
            int b = FloatGemv.BlockColumns(cols);
            int blocks = (cols + b - 1) / b;
            Assert.True(b % 64 == 0 && b <= FloatGemv.MaxBlockColumns, $"cols={cols}: block {b}");
            Assert.Equal((cols + FloatGemv.MaxBlockColumns - 1) / FloatGemv.MaxBlockColumns, blocks); // no extra block
        }
    }

    [Theory]
    [InlineData(0x7c00)] // +inf
    [InlineData(0xfc00)] // -inf
    [InlineData(0x7e00)] // NaN
    public void F16_matrices_with_inf_or_nan_take_the_exact_conversion(int special)
    {
        // Rows 0, 5 and 10 hold one special weight each (in the vector body, the 16-column step, the scalar tail):
        // their outputs must be what IEEE arithmetic gives (inf or NaN), the other rows unchanged.
        const int rows = 11, cols = 49;
        var rng = new Random(special);
        var values = Weights(rows * cols, rng);
        var bits = Encode(GgmlType.F16, values);
        bits[0 * cols + 3] = (ushort)special;
        bits[5 * cols + 40] = (ushort)special;
        bits[10 * cols + 48] = (ushort)special;
        var x = Activations(cols, rng);
        foreach (var pool in new[] { _pool1, _pool3 })
        {
            var data = GC.AllocateArray<byte>(bits.Length * 2, pinned: true);
            Buffer.BlockCopy(bits, 0, data, 0, data.Length);
            WeightMatrix w;
            fixed (byte* p = data) w = new WeightMatrix("w", GgmlType.F16, rows, cols, p, data);
            var y = new float[rows];
            MatMul.Multiply(w, x, y, 1, pool);
            // Only the SIMD kernels scan for specials (the portable path's conversion is exact for every value).
            if (MatMul.IsAccelerated) Assert.Equal(WeightMatrix.HasNonFinite, w.HalfFiniteness);
            for (int r = 0; r < rows; r++)
            {
                double exact = 0, magnitude = 0;
                for (int c = 0; c < cols; c++)
                {
                    double prod = Decode(GgmlType.F16, bits[r * cols + c]) * x[c];
                    exact += prod;
                    magnitude += Math.Abs(prod);
                }
                if (double.IsNaN(exact)) Assert.True(float.IsNaN(y[r]), $"row {r}: {y[r]}, expected NaN");
                else if (double.IsInfinity(exact)) Assert.Equal((float)exact, y[r]);
                else Assert.True(Math.Abs(y[r] - exact) <= 1e-5 * magnitude, $"row {r}: {y[r]} vs {exact}");
            }
        }
    }

    [Fact]
    public void A_finite_f16_matrix_is_found_finite_once()
    {
        var c = MatMulTests.Make(GgmlType.F16, 6, 64, 3);
        Assert.Equal(0, c.W.HalfFiniteness);
        var y = new float[6];
        MatMul.Multiply(c.W, new float[64], y, 1, _pool3);
        Assert.Equal(MatMul.IsAccelerated ? WeightMatrix.AllFinite : 0, c.W.HalfFiniteness);
    }

    [Fact]
    public void HasNonFiniteF16_finds_one_special_anywhere()
    {
        var h = new ushort[70];
        fixed (ushort* p = h)
        {
            for (int len = 0; len <= h.Length; len++)
            {
                h.AsSpan().Fill(0x7bff); // the largest finite: exponent 30, every mantissa bit set
                Assert.False(HalfConversion.HasNonFiniteF16(p, len));
                for (int at = 0; at < len; at++)
                {
                    h[at] = (ushort)(at % 2 == 0 ? 0xfc00 : 0x7c01); // -inf, a NaN
                    Assert.True(HalfConversion.HasNonFiniteF16(p, len), $"len {len}, special at {at}");
                    h[at] = 0x7bff;
                }
            }
        }
    }
}
