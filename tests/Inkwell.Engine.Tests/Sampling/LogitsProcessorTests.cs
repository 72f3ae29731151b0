using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;

namespace Inkwell.Engine.Tests.Sampling;

/// <summary>Each processor and observer on hand-worked rows (expected values computed from the formulas in their docs).</summary>
public class LogitsProcessorTests
{
    private const int Eos = 2;

    private static SequenceState State(int[] prompt, int[] generated, int maxNew = 10) => new(prompt, generated, maxNew);

    [Fact]
    public void Repetition_penalty_divides_positive_and_multiplies_negative_logits_of_seen_tokens()
    {
        var logits = new[] { 2f, -2f, 1f };
        new RepetitionPenalty(2f, 3).Process(State([0, 1], [0, 0]), logits);
        Assert.Equal(new[] { 1f, -4f, 1f }, logits);
    }

    [Fact]
    public void Frequency_penalty_scales_with_counts_of_generated_tokens_only()
    {
        var logits = new[] { 1f, 1f, 1f };
        new FrequencyPresencePenalty(0.5f, 0.25f, 3).Process(State([0, 0], [1, 2, 1]), logits);
        Assert.Equal(new[] { 1f, 1f - 1f - 0.25f, 1f - 0.5f - 0.25f }, logits);
    }

    [Fact]
    public void Watermark_biases_about_half_the_vocabulary()
    {
        var logits = new float[1000];
        new Watermark().Process(State([5], [17]), logits);
        int green = logits.Count(l => l == Watermark.Delta);
        Assert.InRange(green, 430, 570);
        Assert.Equal(1000 - green, logits.Count(l => l == 0f));
    }

    [Fact]
    public void Eos_is_suppressed_until_min_new_tokens_and_always_with_ignore_eos()
    {
        var min = new EosSuppression(minNewTokens: 2, ignoreEos: false, [Eos]);
        float[] Row() => [0f, 1f, 5f, 3f];
        var early = Row();
        min.Process(State([1], [3]), early);
        Assert.Equal(float.NegativeInfinity, early[Eos]);
        var late = Row();
        min.Process(State([1], [3, 3]), late);
        Assert.Equal(5f, late[Eos]);
        var ignore = Row();
        new EosSuppression(0, ignoreEos: true, [Eos]).Process(State([1], [3, 3, 3, 3]), ignore);
        Assert.Equal(float.NegativeInfinity, ignore[Eos]);
    }

    [Fact]
    public void Length_penalty_boosts_eos_as_hugging_faces_exponential_decay()
    {
        // start_index 1, decay 1.5: no change while at most 1 token was generated; then
        // eos += |eos| * (1.5^(generated - 1) - 1), worked by hand: -2 -> -2 + 2 * 0.5 = -1 at 2 tokens, -2 + 2 * 1.25 = 0.5 at 3.
        var penalty = new ExponentialLengthPenalty(new LengthPenalty(1, 1.5f), [Eos]);
        float[] expected = [-2f, -2f, -1f, 0.5f];
        for (int generated = 0; generated < expected.Length; generated++)
        {
            float[] logits = [0f, 1f, -2f, 3f];
            penalty.Process(State([0], Enumerable.Repeat(1, generated).ToArray()), logits);
            Assert.Equal(expected[generated], logits[Eos], 5);
            Assert.Equal([0f, 1f, 3f], new[] { logits[0], logits[1], logits[3] });
        }
    }

    [Fact]
    public void Length_penalty_leaves_a_masked_eos_masked()
    {
        float[] logits = [0f, 1f, float.NegativeInfinity, 3f];
        new ExponentialLengthPenalty(new LengthPenalty(0, 2f), [Eos]).Process(State([0], [0]), logits);
        Assert.Equal(float.NegativeInfinity, logits[Eos]);
    }

    [Fact]
    public void Ranks_count_strictly_better_candidates()
    {
        var ranks = new RankObserver(maxNewTokens: 3);
        float[] logits = [0.5f, 2f, -1f, 1f];
        ranks.Observe(State([0], []), logits, 1);        // best
        ranks.Observe(State([0], [1]), logits, 0);       // 2f and 1f beat it
        ranks.Observe(State([0], [1, 0]), logits, 2);    // last
        Assert.Equal([1, 3, 4], new[] { ranks.At(0), ranks.At(1), ranks.At(2) });
        Assert.Equal(0, ranks.At(3));
    }

    [Fact]
    public void Top_tokens_are_the_n_most_likely_with_log_softmax_and_ties_by_lower_id()
    {
        var top = new TopTokensObserver(n: 2, maxNewTokens: 2);
        float[] logits = [1f, 3f, float.NegativeInfinity, 3f];
        top.Observe(State([0], []), logits, 1);
        double logSum = Math.Log(Math.Exp(1) + 2 * Math.Exp(3));
        var best = top.At(0).ToArray();
        Assert.Equal([1, 3], best.Select(t => t.Id));
        Assert.All(best, t => Assert.Equal(3 - logSum, t.LogProb, 5));
        Assert.Equal(0, top.At(1).Length);
    }

    [Fact]
    public void A_constraint_is_masked_with_the_tokens_left_and_advanced_by_the_observed_token()
    {
        var constraint = new RecordingConstraint();
        var processor = new ConstraintProcessor(constraint);
        processor.Process(State([0], [4, 4], maxNew: 5), new float[4]);
        processor.Observe(State([0], [4, 4], maxNew: 5), new float[4], 3);
        Assert.Equal(3, constraint.TokensLeft);
        Assert.Equal(3, constraint.Advanced);
    }

    [Fact]
    public void A_full_pipeline_and_the_sampler_allocate_nothing_per_token()
    {
        const int vocab = 512, steps = 64;
        var request = new GenerationRequest
        {
            PromptTokens = [1, 5, 9],
            Sampling = new SamplingParameters { DoSample = true, Temperature = 0.7f, TopK = 40, TopP = 0.9f, RepetitionPenalty = 1.2f, FrequencyPenalty = 0.3f, PresencePenalty = 0.1f, Watermark = true },
            Stopping = new StoppingParameters { MaxNewTokens = steps, MinNewTokens = 4 },
            TopNTokens = 5,
            TokenRanks = true,
            LengthPenalty = new LengthPenalty(2, 1.5f),
            LogitBias = new Dictionary<int, float> { [7] = 3f },
        };
        var pipeline = LogitsPipeline.For(request, [Eos], vocab);
        var sampler = new Sampler();
        var rng = new SplitMix64(3);
        var row = new float[vocab];
        int[] prompt = [1, 5, 9];
        var generated = new int[steps];
        void Step(int index)
        {
            for (int t = 0; t < vocab; t++) row[t] = MathF.Sin(t * 0.37f + index);
            var state = new SequenceState(prompt, generated.AsSpan(0, index), steps);
            for (int i = 0; i < pipeline.Processors.Count; i++) pipeline.Processors[i].Process(state, row);
            var (token, _) = sampler.Sample(row, request.Sampling, ref rng);
            for (int i = 0; i < pipeline.Observers.Count; i++) pipeline.Observers[i].Observe(state, row, token);
            generated[index] = token;
        }
        Step(0); // scratch buffers grow on first use
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 1; i < steps; i++) Step(i);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(5, pipeline.TopTokens!.At(steps - 1).Length);
        Assert.InRange(pipeline.Ranks!.At(steps - 1), 1, vocab);
    }

    private sealed class RecordingConstraint : ITokenConstraint
    {
        public int TokensLeft = -1, Advanced = -1;
        public void Mask(Span<float> logits) => throw new InvalidOperationException("the budget-aware overload should be called");
        public void Mask(Span<float> logits, int tokensLeft) => TokensLeft = tokensLeft;
        public bool Advance(int token) { Advanced = token; return true; }
        public bool IsComplete => true;
        public bool IsExhausted => false;
        public ITokenConstraint CreateFresh() => new RecordingConstraint();
    }
}
