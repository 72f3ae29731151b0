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
    public async Task APreCancelledCallerStartsNothing()
    {
        var cache = new GrammarCache();
        var spec = new GrammarSpec(GrammarKind.JsonObject, "");
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cache.GetOrCompileAsync(spec, Vocab, new CancellationToken(true)));
        Assert.Equal(0, cache.Count);
        var automaton = await cache.GetOrCompileAsync(spec, Vocab);
        Assert.True(automaton.StateCount > 0);
    }

    /// <summary>
    /// With one compile slot, a second grammar can only start once the first compile has really stopped: so if the
    /// small one finishes quickly after the last waiter of the slow one hung up, the slow compile was cancelled, not
    /// left running (uncancelled it takes many seconds). On a loaded box the test's own continuations can be held up
    /// long enough for the slow compile to finish before a waiter hangs up; such a round shows nothing either way (a
    /// waiter that leaves gets its cancellation whether or not the compile stops), so it is run again, up to five times.
    /// </summary>
    [Fact]
    public async Task LastWaiterHangingUpCancelsTheCompile()
    {
        for (int round = 1; !await HangUpsStopTheCompileAsync(); round++)
            Assert.True(round < 5, "in five rounds the slow compile always finished before its waiters hung up");
    }

    /// <summary>False when the compile finished before a waiter hung up (nothing shown); otherwise asserts and returns true.</summary>
    private static async Task<bool> HangUpsStopTheCompileAsync()
    {
        var cache = new GrammarCache(maxConcurrentCompiles: 1);
        var slow = GrammarBoundsTests.SlowGrammar;
        using var first = new CancellationTokenSource();
        using var second = new CancellationTokenSource();
        var waits = new[] { cache.GetOrCompileAsync(slow, GrammarBoundsTests.LargeVocabulary, first.Token), cache.GetOrCompileAsync(slow, GrammarBoundsTests.LargeVocabulary, second.Token) };
        await Task.Delay(200);
        first.Cancel();
        if (!await EndsCancelledAsync(waits[0])) return false;
        Assert.Equal(1, cache.Count);                       // the other request still waits for it
        second.Cancel();
        if (!await EndsCancelledAsync(waits[1])) return false;
        Assert.Equal(0, cache.Count);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "ab"), Vocab).WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"the next compile waited {clock.Elapsed.TotalSeconds:0.0} s for the slot");
        return true;

        static async Task<bool> EndsCancelledAsync(Task<TokenAutomaton> wait)
        {
            try
            {
                await wait;
                return false; // compiled before the hang-up reached it
            }
            catch (OperationCanceledException)
            {
                return true;
            }
        }
    }

    [Fact]
    public async Task CacheIsBoundedInBytes()
    {
        long one = (await new GrammarCache().GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "a{20}"), Vocab)).MemoryBytes;
        var cache = new GrammarCache(maxBytes: one * 3 / 2);
        var a = await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "a{20}"), Vocab);
        await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "b{20}"), Vocab);  // same size: evicts "a"
        Assert.Equal(1, cache.Count);
        Assert.True(cache.Bytes <= cache.MaxBytes);
        Assert.NotSame(a, await cache.GetOrCompileAsync(new GrammarSpec(GrammarKind.Regex, "a{20}"), Vocab));
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
