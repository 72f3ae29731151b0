using Inkwell.Engine.Sampling;

namespace Inkwell.Engine.Tests.Sampling;

public class SamplerTests
{
    private static (int, float) Sample(float[] logits, SamplingParameters p, ulong seed)
    {
        var rng = new SplitMix64(seed);
        return new Sampler().Sample(logits.ToArray(), p, ref rng);
    }

    [Fact]
    public void Greedy_picks_the_largest_logit_with_its_log_softmax()
    {
        var (token, logprob) = Sample([0.1f, 2f, -1f, 1.5f], SamplingParameters.Greedy, 1);
        Assert.Equal(1, token);
        double expected = 2 - Math.Log(Math.Exp(0.1) + Math.Exp(2) + Math.Exp(-1) + Math.Exp(1.5));
        Assert.Equal(expected, logprob, 5);
    }

    [Theory]
    [InlineData(151_936)] // Qwen2's vocabulary: many chunks of vectors
    [InlineData(32_003)]  // a tail past the last whole vector
    [InlineData(7)]       // shorter than one vector
    public void Log_softmax_and_log_sum_exp_match_double_precision_over_a_whole_vocabulary(int vocab)
    {
        var rng = new Random(vocab);
        var logits = new float[vocab];
        for (int i = 0; i < vocab; i++) logits[i] = (float)(rng.NextDouble() * 40 - 20);
        logits[vocab / 3] = 35f;                  // a clear favourite
        logits[vocab / 2] = float.NegativeInfinity; // a token a grammar forbids
        double max = logits.Max(), sum = logits.Sum(l => Math.Exp(l - max));
        double logSum = max + Math.Log(sum);
        Assert.Equal(logSum, Sampler.LogSumExp(logits), 4);
        foreach (int i in new[] { 0, vocab / 3, vocab - 1 })
            Assert.Equal(logits[i] - logSum, Sampler.LogSoftmaxAt(logits, i), 4);
        Assert.Equal(float.NegativeInfinity, Sampler.LogSoftmaxAt(logits, vocab / 2));
    }

    [Fact]
    public void Same_seed_same_choice_different_seeds_vary()
    {
        var logits = Enumerable.Range(0, 50).Select(i => (float)Math.Sin(i)).ToArray();
        var p = new SamplingParameters { DoSample = true };
        Assert.Equal(Sample(logits, p, 7), Sample(logits, p, 7));
        var picks = Enumerable.Range(0, 40).Select(s => Sample(logits, p, (ulong)s).Item1).Distinct().Count();
        Assert.True(picks > 5, $"only {picks} distinct tokens over 40 seeds");
    }

    [Fact]
    public void Top_k_only_ever_returns_the_k_best()
    {
        var logits = new float[] { 1f, 5f, 3f, 4f, 2f };
        var p = new SamplingParameters { DoSample = true, TopK = 2 };
        for (ulong s = 0; s < 200; s++)
        {
            int t = Sample(logits, p, s).Item1;
            Assert.Contains(t, new[] { 1, 3 });
        }
    }

    [Fact]
    public void Top_p_keeps_the_smallest_set_reaching_p()
    {
        // softmax of ln(probabilities) = the probabilities: 0.5, 0.3, 0.15, 0.05.
        var logits = new[] { 0.5f, 0.3f, 0.15f, 0.05f }.Select(x => MathF.Log(x)).ToArray();
        var p = new SamplingParameters { DoSample = true, TopP = 0.7f };
        var seen = Enumerable.Range(0, 300).Select(s => Sample(logits, p, (ulong)s).Item1).ToHashSet();
        Assert.Equal(new HashSet<int> { 0, 1 }, seen);
    }

    [Fact]
    public void Top_p_over_a_large_flat_vocabulary_matches_a_full_sort()
    {
        // 2000 nearly equal logits: the nucleus holds far more than the first selection of 64 candidates.
        var logits = Enumerable.Range(0, 2000).Select(i => (float)Math.Sin(i * 0.37) * 0.5f).ToArray();
        var probs = logits.Select(l => Math.Exp(l)).ToArray();
        double sum = probs.Sum();
        var sorted = Enumerable.Range(0, 2000).OrderByDescending(i => probs[i]).ToArray();
        var nucleus = new HashSet<int>();
        double mass = 0;
        foreach (int i in sorted)
        {
            nucleus.Add(i);
            mass += probs[i] / sum;
            if (mass >= 0.9) break;
        }
        Assert.True(nucleus.Count > 64);
        var p = new SamplingParameters { DoSample = true, TopP = 0.9f };
        var seen = Enumerable.Range(0, 500).Select(s => Sample(logits, p, (ulong)s).Item1).ToHashSet();
        Assert.Subset(nucleus, seen);
        Assert.True(seen.Count > 100);
    }

    [Fact]
    public void Typical_p_keeps_tokens_closest_to_the_entropy()
    {
        // p = 0.5, 0.3, 0.15, 0.05: entropy 1.142 nats; |-ln p - H| = 0.449, 0.062, 0.755, 1.854 (Meister et al.),
        // so token 1 alone covers 0.3 >= 0.25, and tokens 1 then 0 cover 0.8 >= 0.5.
        var logits = new[] { 0.5f, 0.3f, 0.15f, 0.05f }.Select(x => MathF.Log(x)).ToArray();
        var only = Enumerable.Range(0, 100).Select(s => Sample(logits, new SamplingParameters { DoSample = true, TypicalP = 0.25f }, (ulong)s).Item1).ToHashSet();
        Assert.Equal(new HashSet<int> { 1 }, only);
        var two = Enumerable.Range(0, 300).Select(s => Sample(logits, new SamplingParameters { DoSample = true, TypicalP = 0.5f }, (ulong)s).Item1).ToHashSet();
        Assert.Equal(new HashSet<int> { 0, 1 }, two);
    }

    [Fact]
    public void Sampling_follows_the_distribution()
    {
        var logits = new[] { 0.7f, 0.2f, 0.1f }.Select(x => MathF.Log(x)).ToArray();
        var p = new SamplingParameters { DoSample = true };
        var counts = new int[3];
        for (ulong s = 0; s < 3000; s++) counts[Sample(logits, p, s).Item1]++;
        Assert.InRange(counts[0] / 3000.0, 0.65, 0.75);
        Assert.InRange(counts[1] / 3000.0, 0.16, 0.24);
    }

    [Fact]
    public void Low_temperature_sharpens_towards_argmax()
    {
        var logits = new[] { 1f, 1.2f, 0.8f };
        var p = new SamplingParameters { DoSample = true, Temperature = 0.01f };
        for (ulong s = 0; s < 50; s++) Assert.Equal(1, Sample(logits, p, s).Item1);
    }

    [Theory]
    [InlineData(1e-38f)]
    [InlineData(1e-45f)]
    public void A_temperature_so_small_that_logits_over_it_overflow_still_picks_the_argmax(float temperature)
    {
        // softmax(l / T) tends to the point mass on the arg-max as T -> 0; dividing first overflowed to
        // infinity - infinity = NaN, and a user asking for temperature 1e-38 got <unk> tokens.
        var logits = new[] { 5f, 7.5f, -3f, 7.25f };
        var p = new SamplingParameters { DoSample = true, Temperature = temperature };
        for (ulong s = 0; s < 20; s++)
        {
            var (token, logprob) = Sample(logits, p, s);
            Assert.Equal(1, token);
            Assert.Equal(0f, logprob);
        }
    }
}
