using Inkwell.Models.Llama;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Tests.Llama;

/// <summary>The forward pass's element-wise steps against their scalar textbook formulas, over widths with vector tails.</summary>
public unsafe class RowOpsTests
{
    [Fact]
    public void SwiGlu_rows_match_the_scalar_formula_for_every_width_and_a_batch_split_across_threads()
    {
        var rng = new Random(3);
        foreach (int width in Enumerable.Range(1, 40).Append(768))
        {
            // 40 rows of 768 pass RowOps.ParallelMinElements, so the last case runs on the pool.
            int rows = width == 768 ? 40 : 3;
            var gate = Random(rng, rows * width, 12f);
            var up = Random(rng, rows * width, 2f);
            var expected = new float[gate.Length];
            for (int i = 0; i < gate.Length; i++) expected[i] = gate[i] / (1f + MathF.Exp(-gate[i])) * up[i];

            using var pool = new WorkerPool(2);
            RowOps.SwiGlu(pool, gate, up, rows, width);
            for (int i = 0; i < gate.Length; i++)
                Assert.True(Math.Abs(gate[i] - expected[i]) <= 2e-6f * Math.Max(1f, Math.Abs(expected[i])), $"width {width}, element {i}: {gate[i]} vs {expected[i]}");
        }
    }

    [Fact]
    public void SwiGlu_saturates_like_the_formula_at_large_inputs()
    {
        float[] gate = [-200f, -90f, 0f, 90f, 200f, -200f, -90f, 0f, 90f, 200f, -200f, -90f, 0f, 90f, 200f, 1f, -1f];
        float[] up = Enumerable.Repeat(3f, gate.Length).ToArray();
        fixed (float* g = gate, u = up) RowOps.SwiGluRow(g, u, gate.Length);
        Assert.Equal(0f, gate[0]);
        Assert.Equal(0f, gate[2]);
        Assert.Equal(600f, gate[4]);
        Assert.Equal(270f, gate[13]);
        Assert.Equal(3f / (1f + MathF.Exp(-1f)), gate[15], 1e-6f);
    }

    [Fact]
    public void Residual_add_and_rmsnorm_match_a_scalar_reference_with_and_without_a_norm()
    {
        var rng = new Random(5);
        using var pool = new WorkerPool(2);
        foreach (var (rows, dim) in new[] { (1, 7), (5, 288), (70, 288) })
        {
            var x = Random(rng, rows * dim, 3f);
            var delta = Random(rng, rows * dim, 1f);
            var weight = Random(rng, dim, 1f);
            var x0 = (float[])x.Clone();
            var y = new float[rows * dim];

            RowOps.ResidualNorm(pool, x, delta, weight, y, rows, dim, 1e-5f);
            for (int t = 0; t < rows; t++)
            {
                double ss = 0;
                for (int i = 0; i < dim; i++)
                {
                    float sum = x0[t * dim + i] + delta[t * dim + i];
                    Assert.Equal(sum, x[t * dim + i]);
                    ss += (double)sum * sum;
                }
                double scale = 1 / Math.Sqrt(ss / dim + 1e-5);
                for (int i = 0; i < dim; i++)
                    Assert.Equal(x[t * dim + i] * scale * weight[i], y[t * dim + i], 1e-5);
            }

            // No weight: only the residual add, and y is left alone.
            var before = (float[])x.Clone();
            y.AsSpan().Fill(42f);
            RowOps.ResidualNorm(pool, x, delta, null, y, rows, dim, 1e-5f);
            for (int i = 0; i < x.Length; i++) Assert.Equal(before[i] + delta[i], x[i]);
            Assert.All(y, v => Assert.Equal(42f, v));
        }
    }

    [Theory]
    [InlineData(RopeStyle.Interleaved, 16, 16)]
    [InlineData(RopeStyle.Interleaved, 48, 48)]
    [InlineData(RopeStyle.Interleaved, 20, 12)]
    [InlineData(RopeStyle.HalfSplit, 64, 64)]
    [InlineData(RopeStyle.HalfSplit, 48, 48)]
    [InlineData(RopeStyle.HalfSplit, 22, 18)]
    public void Rope_is_bit_for_bit_the_textbook_rotation(RopeStyle style, int headDim, int ropeDim)
    {
        var c = new LlamaConfig
        {
            Architecture = "llama", Dim = 3 * headDim, HiddenDim = 8, LayerCount = 1, HeadCount = 3, KvHeadCount = 3,
            VocabSize = 8, ContextLength = 4096, RopeDim = ropeDim, RopeStyle = style, RopeTheta = 500000f,
        }.Validated("test");
        var rng = new Random(headDim + ropeDim);
        var freq = Rope.Frequencies(c);
        foreach (int position in new[] { 0, 1, 17, 1000, 4095 })
        {
            var vec = Random(rng, c.QDim, 2f);
            var expected = (float[])vec.Clone();
            int half = ropeDim / 2;
            for (int h = 0; h < c.HeadCount; h++)
            {
                for (int j = 0; j < half; j++)
                {
                    float angle = position * (1.0f / MathF.Pow(c.RopeTheta, 2 * j / (float)ropeDim));
                    float cos = MathF.Cos(angle), sin = MathF.Sin(angle);
                    int a = h * headDim + (style == RopeStyle.Interleaved ? 2 * j : j);
                    int b = h * headDim + (style == RopeStyle.Interleaved ? 2 * j + 1 : j + half);
                    float v0 = vec[a], v1 = vec[b];
                    expected[a] = v0 * cos - v1 * sin;
                    expected[b] = v0 * sin + v1 * cos;
                }
            }

            var cosTable = new float[ropeDim];
            var sinTable = new float[ropeDim];
            Rope.Angles(c, freq, position, cosTable, sinTable);
            fixed (float* v = vec, co = cosTable, si = sinTable) Rope.Rotate(v, c.HeadCount, c, co, si);
            Assert.Equal(expected, vec);
        }
    }

    private static float[] Random(Random rng, int n, float scale)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }
}

public class VectorExpTests
{
    [Fact]
    public void Exp_is_within_2_ulp_of_MathF_Exp_over_the_float_range_and_exact_at_the_ends()
    {
        var inputs = new List<float>();
        for (float x = -87.3f; x <= 88.7f; x += 0.0137f) inputs.Add(x);
        inputs.AddRange([0f, -0f, 1f, -1f, 1e-8f, -1e-8f, 0.34657359f, -0.34657359f, 88.72f, -87.33f]);
        while (inputs.Count % 16 != 0) inputs.Add(0.5f);
        var xs = inputs.ToArray();
        for (int i = 0; i < xs.Length; i += 16)
        {
            var wide = Exp512(xs.AsSpan(i, 16));
            var narrow = Exp256(xs.AsSpan(i, 8)).Concat(Exp256(xs.AsSpan(i + 8, 8))).ToArray();
            for (int l = 0; l < 16; l++)
            {
                float expected = MathF.Exp(xs[i + l]);
                float ulp = MathF.BitIncrement(expected) - expected;
                Assert.True(Math.Abs(wide[l] - expected) <= 2 * ulp, $"512: exp({xs[i + l]}) = {wide[l]}, expected {expected}");
                Assert.True(Math.Abs(narrow[l] - expected) <= 2 * ulp, $"256: exp({xs[i + l]}) = {narrow[l]}, expected {expected}");
            }
        }

        float[] ends = [float.NegativeInfinity, -1000f, -88f, 89f, 1000f, float.PositiveInfinity, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f, 0f];
        var e = Exp512(ends);
        Assert.Equal([0f, 0f, 0f, float.PositiveInfinity, float.PositiveInfinity, float.PositiveInfinity], e.Take(6));
        Assert.Equal(e.Take(8), Exp256(ends.AsSpan(0, 8)));
    }

    private static float[] Exp512(ReadOnlySpan<float> x)
    {
        var r = new float[16];
        System.Runtime.Intrinsics.Vector512.CopyTo(VectorExp.Exp(System.Runtime.Intrinsics.Vector512.Create(x)), r);
        return r;
    }

    private static float[] Exp256(ReadOnlySpan<float> x)
    {
        var r = new float[8];
        System.Runtime.Intrinsics.Vector256.CopyTo(VectorExp.Exp(System.Runtime.Intrinsics.Vector256.Create(x)), r);
        return r;
    }
}
