using System.Diagnostics;
using System.Text;
using Inkwell.Engine.Grammar;
using Xunit.Abstractions;

namespace Inkwell.Engine.Tests.Grammar;

/// <summary>
/// Issue 11's runaway compiles: schemas that grow exponentially or quadratically when translated are refused quickly
/// with a clear GrammarException while the managed heap stays small, and cancelling the token stops the work itself.
/// Not run in parallel with other tests: the heap measurement is process-wide.
/// </summary>
[Collection(nameof(GrammarBoundsTests))]
[CollectionDefinition(nameof(GrammarBoundsTests), DisableParallelization = true)]
public sealed class GrammarBoundsTests(ITestOutputHelper output)
{
    private static readonly TokenVocabulary ByteVocabulary =
        new(Enumerable.Range(0, 257).Select(i => i < 256 ? new[] { (byte)i } : []).ToArray(), [256]);

    /// <summary>100,000 random lower-case tokens plus every byte: a vocabulary whose trie walks are expensive.</summary>
    internal static readonly TokenVocabulary LargeVocabulary = BuildLargeVocabulary();

    /// <summary>Legal but slow to index against <see cref="LargeVocabulary"/> (thousands of states, each a walk of most of the trie).</summary>
    internal static readonly GrammarSpec SlowGrammar = new(GrammarKind.Regex, "[a-z]{0,1000}-[a-z]{0,1000}-[a-z]{0,1000}-[a-z]{0,1000}");

    public static TheoryData<string, string> BlowUps => new()
    {
        // ten self-references (about 340 bytes): each level multiplies the regex by ten
        { "ten self-references", "{\"type\":\"object\",\"properties\":{" + string.Join(",", Enumerable.Range(0, 10).Select(i => $"\"child_{i}\":{{\"$ref\":\"#\"}}")) + "}}" },
        // a chain of 22 $refs, each used twice: 2^22 copies of the leaf
        { "22 nested $refs", "{\"$defs\":{" + string.Join(",", Enumerable.Range(0, 22).Select(i =>
            $"\"d{i}\":{{\"type\":\"object\",\"properties\":{{\"x\":{{\"$ref\":\"#/$defs/d{i + 1}\"}},\"y\":{{\"$ref\":\"#/$defs/d{i + 1}\"}}}}}}")) +
            ",\"d22\":{\"type\":\"integer\"}},\"$ref\":\"#/$defs/d0\"}" },
        // 1,000 optional properties: the "nothing written yet" alternatives repeat the tail, quadratically
        { "1,000 optional properties", "{\"type\":\"object\",\"properties\":{" + string.Join(",", Enumerable.Range(0, 1000).Select(i => $"\"p{i}\":{{\"type\":\"integer\"}}")) + "}}" },
    };

    [Theory]
    [MemberData(nameof(BlowUps))]
    public async Task BlowUpSchemasAreRefusedQuicklyInBoundedMemory(string name, string schema)
    {
        GC.Collect();
        long baseline = GC.GetTotalMemory(forceFullCollection: true);
        long peak = baseline;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(false));
                await Task.Delay(2);
            }
        });
        // CPU time as well as wall time: the build machine is shared and wall time there mostly measures the queue.
        var process = Process.GetCurrentProcess();
        var cpu0 = process.TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<GrammarException>(() => GrammarCompiler.Compile(new GrammarSpec(GrammarKind.JsonSchema, schema), ByteVocabulary));
        var elapsed = clock.Elapsed;
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpu0;
        stop.Cancel();
        await sampler;
        peak = Math.Max(peak, GC.GetTotalMemory(false));
        output.WriteLine($"{name} ({schema.Length} bytes): {elapsed.TotalMilliseconds:0} ms wall, {cpu.TotalMilliseconds:0} ms cpu, heap peak +{(peak - baseline) >> 20} MiB: {e.Message}");
        Assert.StartsWith("grammar is too large: ", e.Message);
        Assert.True(cpu < TimeSpan.FromSeconds(2), $"took {cpu.TotalSeconds:0.0} s of CPU");
        Assert.True(elapsed < TimeSpan.FromSeconds(30), $"took {elapsed.TotalSeconds:0.0} s");
        Assert.True(peak - baseline < 300L << 20, $"heap grew by {(peak - baseline) >> 20} MiB");
    }

    [Fact]
    public void MemoryBudgetRefusesAGrammarThatWouldNeedMore()
    {
        // 300 random words: about 2,400 states, nearly each with its own mask of the 100k-token vocabulary (12.5 KB).
        var rng = new Random(5);
        var words = Enumerable.Range(0, 300).Select(_ => string.Concat(Enumerable.Range(0, 8).Select(_ => (char)('a' + rng.Next(26))))).ToArray();
        var spec = new GrammarSpec(GrammarKind.Choice, System.Text.Json.JsonSerializer.Serialize(words));
        var limits = GrammarLimits.Default with { MaxMemoryBytes = 8L << 20 };
        var e = Assert.Throws<GrammarException>(() => GrammarCompiler.Compile(spec, LargeVocabulary, limits));
        Assert.Equal("grammar is too large: the token masks would need more than 8 MiB", e.Message);
        Assert.True(GrammarCompiler.Compile(spec, LargeVocabulary).MemoryBytes > 8L << 20); // the default budget holds it
    }

    [Fact]
    public void TimeBudgetRefusesASlowGrammar()
    {
        var limits = GrammarLimits.Default with { CompileTimeout = TimeSpan.FromMilliseconds(300) };
        var clock = Stopwatch.StartNew();
        var e = Assert.Throws<GrammarException>(() => GrammarCompiler.Compile(SlowGrammar, LargeVocabulary, limits));
        Assert.StartsWith("grammar is too large: compiling took longer than", e.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"stopped after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task CancellingTheTokenStopsTheCompile()
    {
        using var cts = new CancellationTokenSource();
        var compile = GrammarCompiler.CompileAsync(SlowGrammar, LargeVocabulary, ct: cts.Token);
        await Task.Delay(200);
        Assert.False(compile.IsCompleted, "the slow grammar finished before it could be cancelled");
        var clock = Stopwatch.StartNew();
        cts.Cancel();
        // The task is the compile itself, so its ending (cancelled) means the work stopped, not only someone's wait.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => compile);
        output.WriteLine($"stopped {clock.Elapsed.TotalMilliseconds:0} ms after the cancel");
        Assert.True(compile.IsCanceled);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"stopped only after {clock.Elapsed.TotalSeconds:0.0} s");
    }

    private static TokenVocabulary BuildLargeVocabulary()
    {
        var rng = new Random(11);
        var tokens = new List<byte[]>();
        for (int b = 0; b < 256; b++) tokens.Add([(byte)b]);
        var seen = new HashSet<string>();
        while (tokens.Count < 100_256)
        {
            string t = string.Concat(Enumerable.Range(0, rng.Next(2, 9)).Select(_ => (char)('a' + rng.Next(26))));
            if (seen.Add(t)) tokens.Add(Encoding.ASCII.GetBytes(t));
        }
        tokens.Add([]); // end of generation
        return new TokenVocabulary(tokens, [tokens.Count - 1]);
    }
}
