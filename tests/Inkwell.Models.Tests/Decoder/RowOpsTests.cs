using Inkwell.Models.Decoder;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Tests.Decoder;

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
            RowOps.Gate(pool, gate, up, rows, width, GateActivation.Silu);
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
        var c = new ModelConfig
        {
            Architecture = "llama", Dim = 3 * headDim, HiddenDim = 8, LayerCount = 1, HeadCount = 3, KvHeadCount = 3,
            VocabSize = 8, ContextLength = 4096, RopeDim = ropeDim, RopeStyle = style, RopeTheta = 500000f,
        }.Validated("test");
        var rng = new Random(headDim + ropeDim);
        var rope = new Rope(c, c.RopeTheta);
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
            rope.Angles(position, cosTable, sinTable);
            fixed (float* v = vec, co = cosTable, si = sinTable) rope.Rotate(v, c.HeadCount, co, si);
            Assert.Equal(expected, vec);
        }
    }

    [Fact]
    public void GeGlu_rows_match_the_tanh_gelu_formula_in_double_and_saturate_without_nan()
    {
        var rng = new Random(4);
        using var pool = new WorkerPool(2);
        foreach (int width in new[] { 1, 7, 8, 9, 33, 768 })
        {
            int rows = width == 768 ? 40 : 3;
            var gate = Random(rng, rows * width, 8f);
            var up = Random(rng, rows * width, 2f);
            var expected = new double[gate.Length];
            for (int i = 0; i < gate.Length; i++)
            {
                double g = gate[i];
                expected[i] = 0.5 * g * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (g + 0.044715 * g * g * g))) * up[i];
            }
            RowOps.Gate(pool, gate, up, rows, width, GateActivation.GeluTanh);
            for (int i = 0; i < gate.Length; i++)
                Assert.True(Math.Abs(gate[i] - expected[i]) <= 4e-6 * Math.Max(1, Math.Abs(expected[i])), $"width {width}, element {i}: {gate[i]} vs {expected[i]}");
        }
        float[] big = [-500f, -50f, 50f, 500f, -500f, -50f, 50f, 500f, 3f];
        float[] ones = Enumerable.Repeat(1f, big.Length).ToArray();
        fixed (float* g = big, u = ones) RowOps.GeGluRow(g, u, big.Length);
        Assert.Equal([0f, 0f, 50f, 500f], big.Take(4).Select(v => MathF.Abs(v)));
    }

    [Fact]
    public void Post_norm_and_residual_scale_apply_to_the_delta_before_the_add()
    {
        var rng = new Random(6);
        using var pool = new WorkerPool(1);
        const int rows = 3, dim = 20;
        var x = Random(rng, rows * dim, 2f);
        var delta = Random(rng, rows * dim, 1f);
        var post = Random(rng, dim, 1f);
        var x0 = (float[])x.Clone();
        var d0 = (float[])delta.Clone();
        RowOps.ResidualNorm(pool, x, delta, null, new float[rows * dim], rows, dim, 1e-6f, post, 0.25f);
        for (int t = 0; t < rows; t++)
        {
            double ss = 0;
            for (int i = 0; i < dim; i++) ss += (double)d0[t * dim + i] * d0[t * dim + i];
            double inv = 1 / Math.Sqrt(ss / dim + 1e-6);
            for (int i = 0; i < dim; i++)
                Assert.Equal(x0[t * dim + i] + 0.25 * d0[t * dim + i] * inv * post[i], x[t * dim + i], 1e-5);
        }
    }

    [Fact]
    public void Bias_and_scale_follow_the_requested_order()
    {
        using var pool = new WorkerPool(1);
        float[] y = [1f, 2f, 3f, 4f];
        RowOps.BiasAndScale(pool, y, 2, [10f, 20f], 2f, biasFirst: true);
        Assert.Equal([22f, 44f, 26f, 48f], y);
        RowOps.BiasAndScale(pool, y, 2, [1f, 1f], 0.5f, biasFirst: false);
        Assert.Equal([12f, 23f, 14f, 25f], y);
    }

    [Fact]
    public void Yarn_and_frequency_factors_give_ggml_rope_yarn_angles_and_magnitude()
    {
        // ggml's rope_yarn and llama.cpp's attention factor, transcribed in double: per pair j, theta_extrap =
        // pos·base^(-2j/d) / ff_j, blended with theta_extrap / factor by the ramp between the correction dimensions;
        // cos and sin scaled by (1 + 0.1·ln(factor)) · attn_factor.
        const int ropeDim = 64, original = 4096;
        const float theta = 1e6f, factor = 8f, attnFactor = 1.25f;
        var factors = Enumerable.Range(0, ropeDim / 2).Select(j => 1f + j / 16f).ToArray();
        var c = new ModelConfig
        {
            Architecture = "test", Dim = 2 * ropeDim, HiddenDim = 8, LayerCount = 1, HeadCount = 2, KvHeadCount = 2,
            VocabSize = 8, ContextLength = 32768, RopeTheta = theta, RopeStyle = RopeStyle.HalfSplit,
            RopeFrequencyFactors = factors, RopeAttentionFactor = attnFactor, Yarn = new YarnScaling(factor, original),
        }.Validated("test");
        var rope = new Rope(c, c.RopeTheta);
        double CorrectionDim(double rotations) => ropeDim * Math.Log(original / (rotations * 2 * Math.PI)) / (2 * Math.Log(theta));
        double low = Math.Max(0, Math.Floor(CorrectionDim(32))), high = Math.Min(ropeDim - 1, Math.Ceiling(CorrectionDim(1)));
        double magnitude = (1 + 0.1 * Math.Log(factor)) * attnFactor;
        var cos = new float[ropeDim];
        var sin = new float[ropeDim];
        foreach (int position in new[] { 1, 7, 100 })
        {
            rope.Angles(position, cos, sin);
            for (int j = 0; j < ropeDim / 2; j++)
            {
                double extrapolated = position * Math.Pow(theta, -2.0 * j / ropeDim) / factors[j];
                double mix = 1 - Math.Min(1, Math.Max(0, (j - low) / Math.Max(0.001, high - low)));
                double angle = extrapolated / factor * (1 - mix) + extrapolated * mix;
                Assert.Equal(Math.Cos(angle) * magnitude, cos[j], 1e-4);
                Assert.Equal(Math.Sin(angle) * magnitude, sin[j + ropeDim / 2], 1e-4);
                Assert.Equal(-Math.Sin(angle) * magnitude, sin[j], 1e-4);
            }
        }
        Assert.True(low > 0 && high < ropeDim / 2, $"the ramp ({low}..{high}) should fall inside the pairs for this test to mean something");
    }

    private static float[] Random(Random rng, int n, float scale)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return a;
    }
}
