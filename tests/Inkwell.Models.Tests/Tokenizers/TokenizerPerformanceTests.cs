using System.Diagnostics;
using System.Text;
using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Models.Tests.Tokenizers;

/// <summary>Guards against quadratic merging: a long input must encode in time proportional to its length.</summary>
public sealed class TokenizerPerformanceTests(ITestOutputHelper output)
{
    public static TheoryData<string> Suites() => new(VocabSuites.Names);

    [SharedTheory]
    [MemberData(nameof(Suites))]
    public void Encoding_long_text_takes_milliseconds_not_seconds(string suite)
    {
        var tokenizer = VocabSuites.Tokenizer(suite);
        // Mixed prose, code and one 20 KB run without spaces (a single pre-tokenizer word: the worst case for merging).
        var text = new StringBuilder();
        foreach (var (input, _) in VocabSuites.Load(suite)) text.Append(input);
        while (text.Length < 80_000) text.Append("Hello, world! Ünïcödé 🦙 text\n\tcode(x) => x * 2; 12345 ");
        text.Append(string.Concat(Enumerable.Repeat("abcdefghij", 2_000)));
        string s = text.ToString();

        tokenizer.EncodeToIds(s[..1000], addSpecialTokens: false); // warm up (JIT, regex compilation)
        var watch = Stopwatch.StartNew();
        var ids = tokenizer.EncodeToIds(s, addSpecialTokens: false);
        watch.Stop();
        output.WriteLine($"{suite}: {s.Length} chars -> {ids.Count} tokens in {watch.Elapsed.TotalMilliseconds:F1} ms");

        Assert.True(ids.Count > 10_000);
        if (VocabSuites.IsLossless(suite)) Assert.Equal(s, tokenizer.Decode(ids));
        // ~100 KB; quadratic merging would take minutes. Generous for a shared, busy machine.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"{suite}: encoding {s.Length} chars took {watch.Elapsed}");
    }
}
