using Inkwell.Models.Decoder;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Tests.Decoder;

/// <summary>
/// The grouped expert path (rows gathered per expert, one GEMM per projection, weighted scatter-add), serial and with
/// the experts side by side, against a naive per-token reference written from llama.cpp's build_moe_ffn in double
/// precision: random weights, several expert counts, top-k values and gating rules, batches where some experts
/// receive no row at all.
/// </summary>
public sealed class MixtureOfExpertsTests
{
    public static TheoryData<int, int, int, ExpertGating, bool, float, int, bool> Cases => new()
    {
        // experts, used, rows, gating, normalize, weight scale, shared hidden, shared expert gate
        { 8, 1, 3, ExpertGating.Softmax, false, 1f, 0, false },
        { 8, 2, 3, ExpertGating.Softmax, true, 1f, 0, false },
        { 6, 3, 17, ExpertGating.Sigmoid, true, 2.5f, 0, false },
        { 5, 2, 9, ExpertGating.SoftmaxOverSelected, false, 1f, 24, false },
        { 16, 4, 2, ExpertGating.Softmax, true, 1f, 40, true },
        { 3, 3, 6, ExpertGating.Softmax, false, 0.5f, 0, false },
        { 60, 4, 5, ExpertGating.Softmax, false, 1f, 20, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Grouped_experts_match_a_per_token_reference(int count, int used, int rows, ExpertGating gating, bool normalize, float scale,
        int sharedHidden, bool sharedGated)
    {
        const int dim = 32, hidden = 48;
        var rng = new Random(count * 100 + used * 10 + rows);
        var config = new ExpertsConfig
        {
            Count = count, UsedCount = used, ExpertHiddenDim = hidden, SharedHiddenDim = sharedHidden, SharedExpertGate = sharedGated,
            Gating = gating, NormalizeWeights = normalize, WeightScale = scale,
        };
        var router = Random(rng, count * dim, 1f);
        // One [count·hidden, dim] tensor per projection, sliced per expert as the GGUF loader slices 3-D tensors.
        var gate = Random(rng, count * hidden * dim, 0.2f);
        var up = Random(rng, count * hidden * dim, 0.2f);
        var down = Random(rng, count * dim * hidden, 0.2f);
        var downScales = Random(rng, count, 1f);
        var gateAll = WeightMatrix.FromF32("gate_exps", gate, count * hidden, dim);
        var upAll = WeightMatrix.FromF32("up_exps", up, count * hidden, dim);
        var downAll = WeightMatrix.FromF32("down_exps", down, count * dim, hidden);
        var experts = Enumerable.Range(0, count).Select(e => new GatedFeedForward(
            new Linear(gateAll.RowSlice(e * hidden, hidden)), new Linear(upAll.RowSlice(e * hidden, hidden)),
            new Linear(downAll.RowSlice(e * dim, dim), scale: downScales[e]), GateActivation.Silu)).ToArray();
        float[] sharedGateProj = Random(rng, sharedHidden * dim, 0.2f), sharedUp = Random(rng, sharedHidden * dim, 0.2f), sharedDown = Random(rng, dim * sharedHidden, 0.2f);
        var shared = sharedHidden == 0 ? null : new GatedFeedForward(
            new Linear(WeightMatrix.FromF32("gate_shexp", sharedGateProj, sharedHidden, dim)),
            new Linear(WeightMatrix.FromF32("up_shexp", sharedUp, sharedHidden, dim)),
            new Linear(WeightMatrix.FromF32("down_shexp", sharedDown, dim, sharedHidden)), GateActivation.Silu);
        var sharedGate = Random(rng, dim, 1f);
        // The same block twice: experts side by side (one per thread) for this batch, and always serially.
        MixtureOfExperts Block(int expertParallelRows) => new(new Linear(WeightMatrix.FromF32("gate_inp", router, count, dim)), experts,
            shared, config, sharedGated ? new Linear(WeightMatrix.FromF32("gate_inp_shexp", sharedGate, 1, dim)) : null, expertParallelRows);

        var x = Random(rng, rows * dim, 1f);
        using var pool = new WorkerPool(2);
        float[] Forward(MixtureOfExperts moe, bool perPassScratch = true)
        {
            var output = new float[rows * dim];
            moe.Forward(x, output, new float[rows * moe.ScratchPerRow + (perPassScratch ? moe.ScratchPerPass : 0)], rows, pool);
            return output;
        }
        var y = Forward(Block(expertParallelRows: rows));
        // Both paths add the experts' outputs in the same order: the same floats, not just close ones. A caller that
        // gives only the per-row scratch gets the serial path.
        Assert.Equal(Forward(Block(expertParallelRows: 0)), y);
        Assert.Equal(Forward(Block(expertParallelRows: rows), perPassScratch: false), y);

        var expertRows = new int[count];
        for (int t = 0; t < rows; t++)
        {
            var xt = x.AsSpan(t * dim, dim).ToArray();
            var logits = Enumerable.Range(0, count).Select(e => Dot(router, e * dim, xt)).ToArray();
            double[] probs = gating switch
            {
                ExpertGating.Softmax => SoftMax(logits),
                ExpertGating.Sigmoid => logits.Select(l => 1 / (1 + Math.Exp(-l))).ToArray(),
                _ => logits,
            };
            int[] chosen = Enumerable.Range(0, count).OrderByDescending(e => probs[e]).Take(used).ToArray();
            double[] weights = chosen.Select(e => probs[e]).ToArray();
            if (gating == ExpertGating.SoftmaxOverSelected) weights = SoftMax(weights);
            if (normalize) weights = weights.Select(w => w / Math.Max(weights.Sum(), ExpertRouter.MinWeightSum)).ToArray();
            var expected = new double[dim];
            for (int j = 0; j < used; j++)
            {
                int e = chosen[j];
                expertRows[e]++;
                var h = Mlp(gate, up, down, e * hidden * dim, e * dim * hidden, hidden, xt);
                for (int i = 0; i < dim; i++) expected[i] += weights[j] * scale * downScales[e] * h[i];
            }
            if (shared is not null)
            {
                var h = Mlp(sharedGateProj, sharedUp, sharedDown, 0, 0, sharedHidden, xt);
                double g = sharedGated ? 1 / (1 + Math.Exp(-Dot(sharedGate, 0, xt))) : 1;
                for (int i = 0; i < dim; i++) expected[i] += g * h[i];
            }
            for (int i = 0; i < dim; i++)
                Assert.True(Math.Abs(y[t * dim + i] - expected[i]) <= 1e-5 + 1e-4 * Math.Abs(expected[i]),
                    $"row {t}, column {i}: {y[t * dim + i]} vs {expected[i]}");
        }
        // With fewer routed pairs than experts, some experts run on no row at all: the grouped path must skip them.
        if (rows * used < count) Assert.Contains(0, expertRows);
    }

    [Fact]
    public void Softmax_then_renormalized_top_k_equals_Mixtrals_softmax_over_the_selected_logits()
    {
        var rng = new Random(7);
        var logits = Random(rng, 8, 3f);
        var config = new ExpertsConfig { Count = 8, UsedCount = 2, ExpertHiddenDim = 1, Gating = ExpertGating.Softmax, NormalizeWeights = true };
        int[] a = new int[2], b = new int[2];
        float[] wa = new float[2], wb = new float[2];
        ExpertRouter.Route(logits.ToArray(), config, a, wa);
        ExpertRouter.Route(logits.ToArray(), config with { Gating = ExpertGating.SoftmaxOverSelected, NormalizeWeights = false }, b, wb);
        Assert.Equal(a, b);
        Assert.Equal(Enumerable.Range(0, 8).OrderByDescending(e => logits[e]).Take(2), a);
        for (int j = 0; j < 2; j++) Assert.Equal(wa[j], wb[j], 1e-6f);
        Assert.True(wa[0] > wa[1]);
    }

    [Fact]
    public void Large_router_logits_stay_finite()
    {
        float[] logits = [200f, 150f, -300f, 199f];
        int[] chosen = new int[2];
        float[] weights = new float[2];
        var config = new ExpertsConfig { Count = 4, UsedCount = 2, ExpertHiddenDim = 1, Gating = ExpertGating.Softmax, NormalizeWeights = true };
        ExpertRouter.Route(logits, config, chosen, weights);
        Assert.Equal([0, 3], chosen);
        Assert.Equal(1 / (1 + Math.Exp(-1)), weights[0], 1e-6);
    }

    [Fact]
    public void A_repeated_batch_allocates_nothing()
    {
        const int dim = 32, hidden = 32, count = 4;
        var rng = new Random(1);
        var config = new ExpertsConfig { Count = count, UsedCount = 2, ExpertHiddenDim = hidden, Gating = ExpertGating.Softmax, NormalizeWeights = true };
        var experts = Enumerable.Range(0, count).Select(e => new GatedFeedForward(
            new Linear(WeightMatrix.FromF32("g", Random(rng, hidden * dim, 0.2f), hidden, dim)),
            new Linear(WeightMatrix.FromF32("u", Random(rng, hidden * dim, 0.2f), hidden, dim)),
            new Linear(WeightMatrix.FromF32("d", Random(rng, dim * hidden, 0.2f), dim, hidden)), GateActivation.Silu)).ToArray();
        var moe = new MixtureOfExperts(new Linear(WeightMatrix.FromF32("r", Random(rng, count * dim, 1f), count, dim)), experts, null, config);
        const int rows = 5;
        var x = Random(rng, rows * dim, 1f);
        var y = new float[rows * dim];
        var scratch = new float[rows * moe.ScratchPerRow + moe.ScratchPerPass];
        using var pool = new WorkerPool(1);
        moe.Forward(x, y, scratch, rows, pool);
        long before = GC.GetAllocatedBytesForCurrentThread();
        moe.Forward(x, y, scratch, rows, pool);
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    private static double[] Mlp(float[] gate, float[] up, float[] down, int inOffset, int downOffset, int hidden, float[] x)
    {
        int dim = x.Length;
        var act = new double[hidden];
        for (int h = 0; h < hidden; h++)
        {
            double g = Dot(gate, inOffset + h * dim, x), u = Dot(up, inOffset + h * dim, x);
            act[h] = g / (1 + Math.Exp(-g)) * u;
        }
        var y = new double[dim];
        for (int i = 0; i < dim; i++)
            for (int h = 0; h < hidden; h++) y[i] += down[downOffset + i * hidden + h] * act[h];
        return y;
    }

    private static double Dot(float[] w, int offset, float[] x)
    {
        double s = 0;
        for (int i = 0; i < x.Length; i++) s += (double)w[offset + i] * x[i];
        return s;
    }

    private static double[] SoftMax(double[] v)
    {
        double max = v.Max();
        var e = v.Select(a => Math.Exp(a - max)).ToArray();
        double sum = e.Sum();
        return e.Select(a => a / sum).ToArray();
    }

    private static float[] Random(Random rng, int n, float scale) =>
        Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1) * scale).ToArray();
}
