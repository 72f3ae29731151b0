using Inkwell.Engine.Sampling;
using Inkwell.Engine.Speculation;

namespace Inkwell.Engine.Tests.Speculation;

/// <summary>
/// The rejection sampler's output must be distributed as the target p, whatever the draft distribution q: checked by a
/// chi-square goodness-of-fit test against p (computed independently, as a softmax in double) over a small
/// vocabulary with controlled logits, seeded so the test is deterministic.
/// </summary>
public class RejectionSamplerTests
{
    private const int Trials = 200_000;
    private static readonly float[] TargetLogits = [2.0f, 1.2f, 0.3f, -0.5f, 1.7f, -1.0f];

    /// <summary>p = softmax(logits / temperature), optionally kept to the top k, in double precision.</summary>
    private static double[] Reference(float[] logits, double temperature, int topK)
    {
        var p = logits.Select(l => Math.Exp(l / temperature)).ToArray();
        if (topK > 0)
        {
            double cut = p.OrderByDescending(x => x).ElementAt(topK - 1);
            for (int i = 0; i < p.Length; i++) if (p[i] < cut) p[i] = 0;
        }
        double sum = p.Sum();
        return p.Select(x => x / sum).ToArray();
    }

    /// <summary>Draws a draft from q (a point mass when drafted greedily), runs accept/resample, and counts the outcomes.</summary>
    private static long[] Run(SamplingParameters sampling, float[]? q, int pointMassDraft, ulong seed)
    {
        var sampler = new Sampler();
        var p = new float[TargetLogits.Length];
        sampler.Distribution(TargetLogits, sampling, p);
        var residual = new float[p.Length];
        var rng = new SplitMix64(seed);
        var counts = new long[p.Length];
        for (int t = 0; t < Trials; t++)
        {
            int draft = q is null ? pointMassDraft : Sampler.Draw(q, ref rng);
            int token = RejectionSampler.Accept(p, q, draft, ref rng) ? draft : RejectionSampler.Resample(p, q, draft, residual, ref rng);
            counts[token]++;
        }
        return counts;
    }

    /// <summary>Pearson's chi-square over the tokens p gives mass; tokens p excludes must never appear.</summary>
    private static void AssertDistributedAs(double[] expected, long[] counts)
    {
        double chi2 = 0;
        int cells = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            if (expected[i] == 0) { Assert.Equal(0, counts[i]); continue; }
            double e = expected[i] * Trials;
            chi2 += (counts[i] - e) * (counts[i] - e) / e;
            cells++;
        }
        // Critical values at p = 0.001 for df = cells - 1 (a correct sampler fails one seed in a thousand).
        double[] critical = [0, 10.83, 13.82, 16.27, 18.47, 20.52, 22.46];
        Assert.True(chi2 < critical[cells - 1], $"chi-square {chi2:F2} over {cells} cells exceeds {critical[cells - 1]}: counts {string.Join(",", counts)}");
    }

    [Fact]
    public void A_point_mass_draft_keeps_the_target_distribution()
    {
        var sampling = new SamplingParameters { DoSample = true, Temperature = 0.8f };
        var expected = Reference(TargetLogits, 0.8, 0);
        // A likely draft (often accepted) and an unlikely one (mostly rejected) must both leave p unchanged.
        AssertDistributedAs(expected, Run(sampling, null, pointMassDraft: 0, seed: 11));
        AssertDistributedAs(expected, Run(sampling, null, pointMassDraft: 5, seed: 12));
    }

    [Fact]
    public void A_sampled_draft_keeps_the_target_distribution()
    {
        var sampling = new SamplingParameters { DoSample = true, Temperature = 1.3f };
        var expected = Reference(TargetLogits, 1.3, 0);
        // A draft model that disagrees with the target: its mass sits on different tokens.
        float[] q = [0.05f, 0.1f, 0.4f, 0.3f, 0.05f, 0.1f];
        AssertDistributedAs(expected, Run(sampling, q, -1, seed: 21));
    }

    [Fact]
    public void Warped_targets_are_matched_and_cut_tokens_never_appear()
    {
        var sampling = new SamplingParameters { DoSample = true, Temperature = 0.7f, TopK = 3 };
        var expected = Reference(TargetLogits, 0.7, 3);
        // The draft puts mass on tokens top-k removes; those drafts are always rejected.
        float[] q = [0.2f, 0.2f, 0.2f, 0.2f, 0.1f, 0.1f];
        AssertDistributedAs(expected, Run(sampling, q, -1, seed: 31));
        AssertDistributedAs(expected, Run(sampling, null, pointMassDraft: 3, seed: 32));
    }

    [Fact]
    public void The_distribution_the_sampler_draws_from_is_the_warped_softmax()
    {
        var sampler = new Sampler();
        var p = new float[TargetLogits.Length];
        sampler.Distribution(TargetLogits, new SamplingParameters { DoSample = true, Temperature = 0.7f, TopK = 3 }, p);
        var expected = Reference(TargetLogits, 0.7, 3);
        for (int i = 0; i < p.Length; i++) Assert.Equal(expected[i], p[i], 1e-6);
        sampler.Distribution(TargetLogits, SamplingParameters.Greedy, p);
        Assert.Equal([1f, 0, 0, 0, 0, 0], p);
    }
}
