using System.Text;
using System.Text.RegularExpressions;
using Inkwell.Engine.Grammar;

namespace Inkwell.Engine.Tests.Grammar;

/// <summary>The byte DFA against .NET's regex engine (ECMAScript mode: ASCII \d \w \s, like ours), both ways.</summary>
public sealed class RegexCompilerTests
{
    public static readonly TheoryData<string> Patterns =
    [
        @"\(\d{3}\) \d{3}-\d{4}",
        @"(19|20)\d\d-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])",
        @"[a-z0-9.]+@[a-z]+\.[a-z]{2,3}",
        @"(a|b)*abb",
        @"(ab|a)*b{2,}c?",
        @"a{2}b{1,3}c{0,}d?",
        @"[^ab\d]+",
        @"\w+\s?\W*",
        @"[\-\].]+x",
        @"(?:é|日本)+[α-γ]?",
        @"a.b|\.\.",
        @"(a*)*b|c+?d??",
        @"[\u00e0-\u00ff]{1,2}\n?",
        @"-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?",
    ];

    private static readonly string[] Alphabet = ["a", "b", "c", "d", "x", "0", "1", "2", "9", "-", ".", "]", " ", "\n", "@", "(", ")", "é", "ÿ", "α", "β", "日", "本", "E", "+", "_"];

    [Theory]
    [MemberData(nameof(Patterns))]
    public void AgreesWithDotNetOnRandomStrings(string pattern)
    {
        var dfa = GrammarCompiler.CompileRegex(pattern);
        var reference = new Regex("^(?:" + pattern + ")\\z", RegexOptions.ECMAScript);
        var rng = new Random(pattern.Length);
        int matched = 0;
        for (int i = 0; i < 3000; i++)
        {
            // Half from the alphabet at random, half mutations of strings the pattern likes, so both answers occur.
            var sb = new StringBuilder();
            int len = rng.Next(0, 12);
            for (int k = 0; k < len; k++) sb.Append(Alphabet[rng.Next(Alphabet.Length)]);
            string s = sb.ToString();
            bool expected = reference.IsMatch(s);
            Assert.True(expected == dfa.Matches(Encoding.UTF8.GetBytes(s)), $"'{s}': .NET says {expected}");
            if (expected) matched++;
        }
        foreach (var s in Samples(pattern))
            Assert.True(reference.IsMatch(s) == dfa.Matches(Encoding.UTF8.GetBytes(s)), $"sample '{s}'");
    }

    private static IEnumerable<string> Samples(string pattern) =>
    [
        "(555) 123-4567", "(555) 123-456", "1999-12-31", "2024-02-30", "2024-13-01", "john.doe@mail.com", "a@b.c",
        "abb", "aabb", "babb", "ab", "abbc", "aabbb", "aabbbcd", "aabbbbd", "é日本β", "日本", "a\nb", "axb", "..",
        "b", "cd", "ccc", "àÿ\n", "-0.5e+10", "01", "-", "]-.x", "xyz", "héllo wörld", "foo bar!?",
    ];

    [Theory]
    [InlineData("(")]
    [InlineData("a)")]
    [InlineData("[a-")]
    [InlineData("[z-a]")]
    [InlineData("a**")]
    [InlineData("*a")]
    [InlineData("a{3,2}")]
    [InlineData("(?=a)b")]
    [InlineData("(?<!a)b")]
    [InlineData("(?i)abc")]
    [InlineData(@"(a)\1")]
    [InlineData(@"\p{L}+")]
    [InlineData(@"\bword\b")]
    [InlineData("a^b")]
    [InlineData("a$b")]
    [InlineData(@"\q")]
    [InlineData(@"\x4")]
    [InlineData(@"\uD800")]
    [InlineData("abc\\")]
    [InlineData("(?!)")]
    public void InvalidRegexIsRejectedClearly(string pattern)
    {
        var e = Assert.Throws<GrammarException>(() => GrammarCompiler.CompileToDfa(new GrammarSpec(GrammarKind.Regex, pattern)));
        Assert.StartsWith("grammar is not valid: ", e.Message);
    }

    [Theory]
    [InlineData("a{1001}")]
    [InlineData("(a{1000}){1000}")]
    [InlineData("(a|b)*a(a|b){20}")] // the textbook exponential DFA
    [InlineData("([^x]{100}){100}")]
    public void HugeRegexIsRejectedWithoutHanging(string pattern)
    {
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var e = Assert.Throws<GrammarException>(() => GrammarCompiler.CompileRegex(pattern));
        Assert.StartsWith("grammar is too large: ", e.Message);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(60), $"took {sw.Elapsed}");
    }

    [Theory]
    [InlineData("(a|b)*abb", 4)]
    [InlineData("a*|a*a", 1)]
    [InlineData("(ab|a)(b|)", 4)]
    [InlineData("x{3}|y{3}", 6)]
    public void DfaIsMinimal(string pattern, int states) =>
        Assert.Equal(states, GrammarCompiler.CompileRegex(pattern).StateCount);

    [Fact]
    public void CharactersAreCodePointsOverValidUtf8()
    {
        var dfa = GrammarCompiler.CompileRegex("[^a]");
        Assert.True(dfa.Matches(Encoding.UTF8.GetBytes("😀")));   // one code point, four bytes
        Assert.True(dfa.Matches(Encoding.UTF8.GetBytes("é")));
        Assert.False(dfa.Matches(Encoding.UTF8.GetBytes("a")));
        Assert.False(dfa.Matches([0xC0, 0x80]));                   // overlong NUL
        Assert.False(dfa.Matches([0xED, 0xA0, 0x80]));             // encoded surrogate
        Assert.False(dfa.Matches([0x80]));                         // lone continuation byte
        Assert.False(dfa.Matches([0xF4, 0x90, 0x80, 0x80]));       // above U+10FFFF
        var dot = GrammarCompiler.CompileRegex(".");
        Assert.False(dot.Matches("\n"u8));
        Assert.True(dot.Matches(Encoding.UTF8.GetBytes("\U0010FFFF")));
        Assert.True(GrammarCompiler.CompileRegex(@"\u{1F600}\uD83D\uDE00").Matches(Encoding.UTF8.GetBytes("😀😀")));
    }

    [Fact]
    public void AnchorsAtTheEndsAndLazyQuantifiersAreAccepted()
    {
        Assert.True(GrammarCompiler.CompileRegex("^ab+?c*?$").Matches("abbc"u8));
        Assert.True(GrammarCompiler.CompileRegex(@"a\$").Matches("a$"u8));
        Assert.True(GrammarCompiler.CompileRegex("a{,2}").Matches("a{,2}"u8)); // not a quantifier: literal, as in .NET
    }
}
