using System.Text;
using Inkwell.Engine.Grammar;

namespace Inkwell.Engine.Tests.Grammar;

public sealed class TokenAutomatonTests
{
    // ids:                 0     1     2      3      4    5   6 (eos) 7           8            9
    private static readonly byte[][] Tokens = [B("a"), B("b"), B("ab"), B("abc"), B("c"), [], [], [0xC3], [0xA9], B("é")];
    private const int Eos = 6;

    private static byte[] B(string s) => Encoding.UTF8.GetBytes(s);

    private static TokenAutomaton Compile(string regex, IEnumerable<int>? eos = null) =>
        TokenAutomaton.Build(GrammarCompiler.CompileRegex(regex), new TokenVocabulary(Tokens, eos ?? [Eos]));

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
    public void TokensIntoDeadEndsArePruned()
    {
        // "ab|abcy": after "abc" only "y" may follow and no token has one, so "abc" must not be offered.
        var a = Compile("ab|abcy");
        Assert.Equal([0, 2], Allowed(a, a.InitialState));
        Assert.Equal(-1, a.Next(a.InitialState, 3));
        Assert.Equal([1], Allowed(a, a.Next(a.InitialState, 0)));
    }

    /// <summary>Distances counted by hand over this test's vocabulary: a, b, ab, abc, c, é and its two bytes.</summary>
    [Theory]
    [InlineData("abc", 1)]            // "abc" is one token
    [InlineData("abcabc", 2)]
    [InlineData("(ab){2}c", 2)]       // "ab" "abc"
    [InlineData("b{3}", 3)]
    [InlineData("(a|b)*", 0)]
    [InlineData("é{2}c", 3)]
    [InlineData("cé|bbbbb", 2)]       // the shorter text wins: "c" "é"
    public void DistanceToAcceptIsTheShortestTokenCount(string regex, int expected) =>
        Assert.Equal(expected, Compile(regex).DistanceToAccept(Compile(regex).InitialState));

    [Fact]
    public void DistancesFollowTheWalk()
    {
        var a = Compile("a(c|b{4})");                          // "a" "c", or "ab" "b" "b" "b"
        Assert.Equal(2, a.DistanceToAccept(a.InitialState));
        int afterA = a.Next(a.InitialState, 0);
        Assert.Equal(1, a.DistanceToAccept(afterA));
        int afterAb = a.Next(a.InitialState, 2);
        Assert.Equal(3, a.DistanceToAccept(afterAb));
        Assert.Equal(2, a.DistanceToAccept(a.Next(afterAb, 1)));
        Assert.Equal(0, a.DistanceToAccept(a.Next(afterA, 4)));
    }

    [Fact]
    public void TightBudgetSteersToTheShortestCompletion()
    {
        var a = Compile("a(c|b{4})");
        Assert.Equal([0, 2], Masked(a, a.InitialState, tokensLeft: 10));   // plenty: both ways stay open
        Assert.Equal([0, 2], Masked(a, a.InitialState, tokensLeft: 4));    // "ab" + 3 more fits exactly
        Assert.Equal([0], Masked(a, a.InitialState, tokensLeft: 3));       // it no longer does
        Assert.Equal([0], Masked(a, a.InitialState, tokensLeft: 0));       // too small a budget: the closest tokens, never none
        int afterA = a.Next(a.InitialState, 0);
        Assert.Equal([1, 4], Masked(a, afterA, tokensLeft: 5));
        Assert.Equal([4], Masked(a, afterA, tokensLeft: 1));
    }

    private static int[] Masked(TokenAutomaton a, int state, int tokensLeft)
    {
        var logits = new float[Tokens.Length];
        a.ApplyMask(state, logits, tokensLeft);
        return Finite(logits);
    }

    private static int[] Finite(float[] logits) => Enumerable.Range(0, logits.Length).Where(i => float.IsFinite(logits[i])).ToArray();

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
    public void HotPathDoesNotAllocate()
    {
        var bigVocab = Enumerable.Range(0, 5000).Select(i => B(i.ToString(System.Globalization.CultureInfo.InvariantCulture))).ToList();
        var a = TokenAutomaton.Build(GrammarCompiler.CompileRegex(@"\d{8,12}"), bigVocab, [4999]);
        var logits = new float[5000];
        int state = a.InitialState;
        a.ApplyMask(state, logits);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            a.ApplyMask(state, logits);
            a.ApplyMask(state, logits, tokensLeft: 2);           // two tokens for 8 digits: the filtering walk runs
            _ = a.AllowedMask(state);
            _ = a.Next(state, 12);
            _ = a.IsAccepting(state);
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }
}
