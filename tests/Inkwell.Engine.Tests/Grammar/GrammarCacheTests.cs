using Inkwell.Engine.Grammar;

namespace Inkwell.Engine.Tests.Grammar;

public sealed class GrammarCacheTests
{
    private static readonly TokenVocabulary Vocab = new(
        Enumerable.Range(0, 300).Select(i => i < 256 ? new[] { (byte)i } : System.Text.Encoding.UTF8.GetBytes("tok" + i)).ToArray(), [299]);

    [Fact]
    public async Task SameGrammarAndVocabularyCompileOnce()
    {
        var cache = new GrammarCache(capacity: 4);
        var spec = new GrammarSpec(GrammarKind.Regex, @"\d+");
        var results = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => cache.GetOrCompileAsync(spec, Vocab)));
        Assert.All(results, r => Assert.Same(results[0], r));
        Assert.Same(results[0], await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, @"\d+"), Vocab)); // equal record, new instance
        var otherVocab = new TokenVocabulary(Enumerable.Range(0, 256).Select(i => new[] { (byte)i }).ToArray(), []);
        Assert.NotSame(results[0], await cache.GetOrCompileAsync(spec, otherVocab));
        Assert.Equal(2, cache.Count);
    }

    [Fact]
    public async Task CacheIsBoundedLeastRecentlyUsedFirst()
    {
        var cache = new GrammarCache(capacity: 2);
        var a = await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "a"), Vocab);
        await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "b"), Vocab);
        Assert.Same(a, await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "a"), Vocab)); // touch "a"
        await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "c"), Vocab);                  // evicts "b"
        Assert.Equal(2, cache.Count);
        Assert.Same(a, await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "a"), Vocab));
    }

    [Fact]
    public async Task InvalidGrammarFaultsWithGrammarException()
    {
        var cache = new GrammarCache();
        var e = await Assert.ThrowsAsync<GrammarException>(() => cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "(a"), Vocab));
        Assert.StartsWith("grammar is not valid: ", e.Message);
    }

    [Fact]
    public async Task CallerCancellationStopsOnlyTheWait()
    {
        var cache = new GrammarCache();
        var spec = new GrammarSpec(GrammarKind.JsonObject, "");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.GetOrCompileAsync(spec, Vocab, new CancellationToken(true)));
        var automaton = await cache.GetOrCompileAsync(spec, Vocab);
        Assert.True(automaton.StateCount > 0);
    }

    [Fact]
    public async Task CompileTimeoutIsATooLargeErrorAndIsNotCached()
    {
        // A zero budget is spent before the first check; a timer-based small budget would race a fast compile.
        var cache = new GrammarCache(limits: GrammarLimits.Default with { CompileTimeout = TimeSpan.Zero });
        var spec = new GrammarSpec(GrammarKind.JsonObject, "3");
        var e = await Assert.ThrowsAsync<GrammarException>(() => cache.GetOrCompileAsync(spec, Vocab));
        Assert.StartsWith("grammar is too large: ", e.Message);
        for (int i = 0; i < 100 && cache.Count > 0; i++) await Task.Delay(10); // the entry is dropped after the fault
        Assert.Equal(0, cache.Count);
    }
}
