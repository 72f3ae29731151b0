using Inkwell.Server.Grpc;

namespace Inkwell.Server.Tests.Grpc;

public sealed class TokenObserverTests
{
    private const int Eos = 2;

    [Fact]
    public void LengthPenalty_BoostsEos_AsHuggingFacesExponentialDecay()
    {
        // start_index 1, decay 1.5: no change while at most 1 token was generated; then
        // eos += |eos| * (1.5^(generated - 1) - 1), worked by hand: -2 -> -2 + 2 * 0.5 = -1 at 2 tokens, -2 + 2 * 1.25 = 0.5 at 3.
        var observer = new TokenObserver(new LengthPenalty(1, 1.5f), [Eos], vocabSize: 4, maxNewTokens: 10, wantRanks: false);
        float[] expected = [-2f, -2f, -1f, 0.5f];
        for (int generated = 0; generated < expected.Length; generated++)
        {
            float[] logits = [0f, 1f, -2f, 3f];
            observer.Mask(logits);
            Assert.Equal(expected[generated], logits[Eos], 5);
            Assert.Equal([0f, 1f, 3f], new[] { logits[0], logits[1], logits[3] });
            observer.Advance(1);
        }
    }

    [Fact]
    public void LengthPenalty_LeavesAMaskedEosMasked()
    {
        var observer = new TokenObserver(new LengthPenalty(0, 2f), [Eos], 4, 10, wantRanks: false);
        observer.Advance(0);
        float[] logits = [0f, 1f, float.NegativeInfinity, 3f];
        observer.Mask(logits);
        Assert.Equal(float.NegativeInfinity, logits[Eos]);
    }

    [Fact]
    public void Ranks_CountStrictlyBetterCandidates()
    {
        var observer = new TokenObserver(null, [Eos], 4, 3, wantRanks: true);
        float[] logits = [0.5f, 2f, -1f, 1f];
        observer.Mask(logits);
        observer.Advance(1);  // best
        observer.Mask(logits);
        observer.Advance(0);  // 2f and 1f beat it
        observer.Mask(logits);
        observer.Advance(2);  // last
        Assert.Equal([1, 3, 4], new[] { observer.RankAt(0), observer.RankAt(1), observer.RankAt(2) });
        Assert.Equal(0, observer.RankAt(3));
    }
}
