using System.Text;
using Inkwell.Engine.Grammar;

namespace Inkwell.Engine.Tests.Grammar;

public sealed class TokenAutomatonTests
{
    // ids:                 0     1     2      3      4    5   6 (eos) 7           8            9
    private static readonly byte[][] Tokens = [B("a"), B("b"), B("ab"), B("abc"), B("c"), [], [], [0xC3], [0xA9], B("é")];
    private const int Eos = 6;

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static TokenAutomaton Compile(string regex, IEnumerable<int>? eos = null, TimeSpan? budget = null) =>
        TokenAutomaton.Build(GrammarCompiler.CompileRegex(regex), new TokenVocabulary(Tokens, eos ?? [Eos]), default, budget);

    private static int[] Allowed(TokenAutomaton a, int state) =>
        Enumerable.Range(0, a.VocabularySize).Where(t => a.IsAllowed(state, t)).ToArray();

    [Fact]
    public void MasksAndTransitionsFollowTheGrammar()
    {
        var a = Compile("ab*c");
        int s0 = a.InitialState;
        Assert.Equal([0, 2, 3], Allowed(a, s0));          // "a", "ab", "abc"; never the empty token 5
        Assert.Equal(-1, a.Next(s0, Eos));                 // end only where the grammar accepts
        Assert.Equal(-1, a.Next(s0, 1));
        Assert.Equal(-1, a.Next(s0, 5));
        Assert.Equal(-1, a.Next(s0, 999));
        int s1 = a.Next(s0, 2);                             // "ab"
        Assert.Equal([1, 4], Allowed(a, s1));              // more "b" or the final "c"
        int end = a.Next(s1, 4);
        Assert.True(a.IsAccepting(end));
        Assert.Equal([Eos], Allowed(a, end));
        Assert.Equal(end, a.Next(end, Eos));
        Assert.False(a.IsDeadEnd(end));
        Assert.Equal(a.Next(s0, 3), end);                   // "abc" in one token lands in the same state
    }

    [Fact]
    public void WithoutEndTokensAFinishedMatchIsADeadEnd()
    {
        var a = Compile("abc", eos: []);
        int end = a.Next(a.InitialState, 3);
        Assert.True(a.IsAccepting(end));
        Assert.True(a.IsDeadEnd(end));
    }

    [Fact]
    public void TokensMaySplitAUtf8Character()
    {
        var a = Compile("é+");
        Assert.Equal([7, 9], Allowed(a, a.InitialState));
        int mid = a.Next(a.InitialState, 7);               // first byte of é
        Assert.Equal([8], Allowed(a, mid));
        Assert.False(a.IsAccepting(mid));
        Assert.True(a.IsAccepting(a.Next(mid, 8)));
    }

    [Fact]
    public void TokensIntoDeadEndsArePrunedWhenAllStatesArePrecomputed()
    {
        // "ab|abcy": after "abc" only "y" may follow and no token has one, so "abc" must not be offered.
        var eager = Compile("ab|abcy");
        Assert.Equal([0, 2], Allowed(eager, eager.InitialState));
        Assert.Equal(-1, eager.Next(eager.InitialState, 3));
        Assert.Equal([1], Allowed(eager, eager.Next(eager.InitialState, 0)));
    }

    [Fact]
    public void LazyStatesTheVocabularyCannotLeaveAreReportedAsDeadEnds()
    {
        // Without the full precompute there is no pruning; the engine sees the dead end and stops the sequence.
        var lazy = Compile("ab|abcy", budget: TimeSpan.Zero);
        int afterAbc = lazy.Next(lazy.InitialState, 3);
        Assert.True(afterAbc >= 0);
        Assert.True(lazy.IsDeadEnd(afterAbc));
        Assert.False(lazy.IsAccepting(afterAbc));
    }

    [Fact]
    public void GrammarTheVocabularyCannotStartIsRejected()
    {
        var e = Assert.Throws<GrammarException>(() => Compile("z"));
        Assert.StartsWith("grammar is not valid: ", e.Message);
    }

    [Fact]
    public void ApplyMaskBlocksExactlyTheDisallowedTokensAndThePadding()
    {
        var a = Compile("ab*c");
        var logits = Enumerable.Range(0, Tokens.Length + 70).Select(i => (float)i).ToArray(); // padded past a word boundary
        a.ApplyMask(a.InitialState, logits);
        for (int t = 0; t < logits.Length; t++)
            Assert.Equal(t is 0 or 2 or 3 ? t : float.NegativeInfinity, logits[t]);
        var shorter = new float[2];                          // a shorter span is fine too
        a.ApplyMask(a.InitialState, shorter);
        Assert.Equal([0f, float.NegativeInfinity], shorter);
    }

    [Fact]
    public void LazyMasksEqualPrecomputedOnes()
    {
        var eager = Compile("(a|b|é)*c?", budget: TimeSpan.FromMinutes(1));
        var lazy = Compile("(a|b|é)*c?", budget: TimeSpan.Zero);
        Assert.Equal(eager.StateCount, eager.PrecomputedStates);
        Assert.True(lazy.PrecomputedStates <= 1);
        for (int s = 0; s < eager.StateCount; s++) Assert.Equal(eager.AllowedMask(s).ToArray(), lazy.AllowedMask(s).ToArray());
    }

    [Fact]
    public void LazyMasksAreSafeUnderConcurrentFirstUse()
    {
        var eager = Compile("(ab|é|c)*b{0,5}", budget: TimeSpan.FromMinutes(1));
        for (int round = 0; round < 20; round++)
        {
            var lazy = Compile("(ab|é|c)*b{0,5}", budget: TimeSpan.Zero);
            Parallel.For(0, 8, _ =>
            {
                for (int s = eager.StateCount - 1; s >= 0; s--)
                    Assert.Equal(eager.AllowedMask(s).ToArray(), lazy.AllowedMask(s).ToArray());
            });
        }
    }

    [Fact]
    public void HotPathDoesNotAllocate()
    {
        var bigVocab = Enumerable.Range(0, 5000).Select(i => B(i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        var a = TokenAutomaton.Build(GrammarCompiler.CompileRegex(@"\d{1,12}"), bigVocab, [4999]);
        var logits = new float[5000];
        int state = a.InitialState;
        a.ApplyMask(state, logits);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            a.ApplyMask(state, logits);
            _ = a.AllowedMask(state);
            _ = a.Next(state, 12);
            _ = a.IsAccepting(state);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
