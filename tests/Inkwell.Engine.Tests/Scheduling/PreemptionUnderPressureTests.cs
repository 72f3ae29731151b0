using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Models.Loading;

namespace Inkwell.Engine.Tests.Scheduling;

/// <summary>
/// Preemption as a load spike causes it: requests of very different prompt and output lengths (some sharing a long
/// prefix, greedy and seeded sampling mixed) arrive together at a KV pool that holds little more than the largest
/// one. Every request must complete, with exactly the tokens an unconstrained pool gives it, with prefix caching on
/// and off, and the pool must end whole.
/// </summary>
public class PreemptionUnderPressureTests
{
    private const string SharedPrefix = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends. ";

    private static readonly (string Prompt, int MaxNew, bool Sample)[] Mix =
    [
        ("Once", 180, false),
        (SharedPrefix + "One day", 60, true),
        ("The little dog", 5, true),
        (SharedPrefix + SharedPrefix + "Then", 120, false),
        ("Tom had a red ball", 200, true),
        (SharedPrefix + "One day", 60, false),
        ("Sue", 1, true),
        (string.Concat(Enumerable.Repeat("The sun was hot and the sky was blue. ", 8)), 40, true),
        ("There was a cat", 150, false),
        (SharedPrefix + "She", 90, true),
        ("A", 30, false),
        ("One day, a big bird", 170, true),
    ];

    private static GenerationRequest Request(LoadedModel m, int i) => new()
    {
        PromptTokens = m.Tokenizer.EncodeToIds(Mix[i].Prompt),
        Sampling = Mix[i].Sample ? new SamplingParameters { DoSample = true, Temperature = 0.9f, Seed = (ulong)(1000 + i) } : SamplingParameters.Greedy,
        // Length only: every request runs to its own limit, so short and long ones overlap and compete for blocks.
        Stopping = new StoppingParameters { MaxNewTokens = Mix[i].MaxNew, IgnoreEos = true },
    };

    private static async Task<(int[][] Tokens, long Preemptions)> RunAll(LoadedModel m, EngineOptions options)
    {
        await using var engine = EngineTestModels.Start(m, options);
        var runs = Enumerable.Range(0, Mix.Length).Select(async i =>
        {
            GenerationResult? result = null;
            await foreach (var e in engine.Submit(Request(m, i)).ReadAllAsync())
            {
                if (e is GenerationFailed f) Assert.Fail($"request {i} failed: {f.Message}");
                if (e is GenerationFinished done) result = done.Result;
            }
            Assert.NotNull(result);
            Assert.Equal(Mix[i].MaxNew, result.GeneratedTokenCount);
            return result.Tokens.Select(t => t.Id).ToArray();
        }).ToArray();
        var tokens = await Task.WhenAll(runs);
        Assert.Equal(engine.BlockPool.BlockCount, engine.BlockPool.FreeBlockCount);
        return (tokens, engine.Stats.Preemptions);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task MixedLengths_InATinyPool_AllComplete_WithTheUnconstrainedTokens(bool prefixCaching)
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        var roomy = await RunAll(m, new EngineOptions { KvCacheTokens = 16384, BlockSize = 8, PrefixCaching = prefixCaching });
        Assert.Equal(0, roomy.Preemptions);

        int largest = Enumerable.Range(0, Mix.Length).Max(i => m.Tokenizer.EncodeToIds(Mix[i].Prompt).Count + Mix[i].MaxNew);
        // Room for the largest request and a little more: everything else has to wait or be preempted.
        var tight = await RunAll(m, new EngineOptions { KvCacheTokens = largest + 32, BlockSize = 8, PrefixCaching = prefixCaching });

        Assert.True(tight.Preemptions > 0, "the tiny pool should have forced preemptions");
        for (int i = 0; i < Mix.Length; i++) Assert.True(roomy.Tokens[i].SequenceEqual(tight.Tokens[i]), $"request {i} ('{Mix[i].Prompt[..Math.Min(20, Mix[i].Prompt.Length)]}') differs after preemption");
    }
}
