using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Models.Loading;

namespace Inkwell.Engine.Tests.Scheduling;

/// <summary>Batching, preemption, prefix reuse and cancellation, observed through results that must not change.</summary>
public class ContinuousBatchingTests
{
    private static readonly string[] Prompts =
    [
        "Once upon a time", "The little dog", "Lily and Ben went to the park", "One day, a big bird",
        "Tom had a red ball", "The sun was hot", "Sue liked to sing", "There was a cat",
    ];

    private static GenerationRequest Request(LoadedModel m, string prompt, int maxNew, ulong seed) => new()
    {
        PromptTokens = m.Tokenizer.EncodeToIds(prompt),
        Sampling = new SamplingParameters { DoSample = true, Temperature = 0.9f, Seed = seed },
        Stopping = new StoppingParameters { MaxNewTokens = maxNew },
    };

    private static Task<GenerationResult> Collect(GenerationStream events) => GenerationResults.Collect(events);

    private static async Task<string[]> RunAll(LoadedModel m, EngineOptions options, int maxNew = 40)
    {
        await using var engine = EngineTestModels.Start(m, options);
        var runs = Prompts.Select((p, i) => Collect(engine.Submit(Request(m, p, maxNew, (ulong)(100 + i))))).ToArray();
        var results = await Task.WhenAll(runs);
        Assert.Equal(engine.BlockPool.BlockCount, engine.BlockPool.FreeBlockCount);
        return results.Select(r => r.GeneratedText).ToArray();
    }

    [Fact]
    public async Task Concurrent_requests_give_the_same_text_as_one_at_a_time()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        var batched = await RunAll(m, new EngineOptions { KvCacheTokens = 4096 });
        await using var engine = EngineTestModels.Start(m, new EngineOptions { KvCacheTokens = 4096 });
        for (int i = 0; i < Prompts.Length; i++)
        {
            var alone = await Collect(engine.Submit(Request(m, Prompts[i], 40, (ulong)(100 + i))));
            Assert.Equal(alone.GeneratedText, batched[i]);
        }
    }

    [Fact]
    public async Task A_tiny_kv_pool_preempts_but_completes_every_request_identically()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        var roomy = await RunAll(m, new EngineOptions { KvCacheTokens = 4096 });
        // 8 requests of ~50 tokens each need ~400 slots; 96 slots force preemption and recomputation.
        await using var engine = EngineTestModels.Start(m, new EngineOptions { KvCacheTokens = 96, BlockSize = 8 });
        var runs = Prompts.Select((p, i) => Collect(engine.Submit(Request(m, p, 40, (ulong)(100 + i))))).ToArray();
        var tight = (await Task.WhenAll(runs)).Select(r => r.GeneratedText).ToArray();
        Assert.True(engine.Stats.Preemptions > 0, "the tiny pool should have forced a preemption");
        Assert.Equal(roomy, tight);
        Assert.Equal(engine.BlockPool.BlockCount, engine.BlockPool.FreeBlockCount);
    }

    [Fact]
    public async Task Prefix_reuse_hits_and_output_is_identical_with_caching_on_and_off()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        string shared = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
        async Task<(string[] Texts, long Hits)> Run(bool caching)
        {
            await using var engine = EngineTestModels.Start(m, new EngineOptions { KvCacheTokens = 2048, BlockSize = 4, PrefixCaching = caching });
            var texts = new List<string>();
            for (int i = 0; i < 3; i++)
                texts.Add((await Collect(engine.Submit(Request(m, shared + " One day", 30, (ulong)(7 + i))))).GeneratedText);
            return (texts.ToArray(), engine.BlockPool.PrefixHits);
        }
        var on = await Run(true);
        var off = await Run(false);
        Assert.True(on.Hits > 0, "prefix caching should reuse the shared prompt's blocks");
        Assert.Equal(0, off.Hits);
        Assert.Equal(off.Texts, on.Texts);
    }

    [Fact]
    public async Task A_fully_cached_prompt_recomputes_only_its_last_token_with_identical_output()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        var prompt = m.Tokenizer.EncodeToIds("Once upon a time, there was a little girl named Lily. She loved to play outside").Take(16).ToArray();
        Assert.Equal(16, prompt.Length);  // exactly two blocks of 8
        async Task<(string[] Texts, long Computed, int FreeAfter, int Total)> Run(bool caching)
        {
            await using var engine = EngineTestModels.Start(m, new EngineOptions { KvCacheTokens = 512, BlockSize = 8, PrefixCaching = caching });
            var texts = new List<string>();
            for (int i = 0; i < 3; i++)
            {
                var request = new GenerationRequest
                {
                    PromptTokens = prompt,
                    Sampling = new SamplingParameters { DoSample = true, Seed = (ulong)(40 + i) },
                    Stopping = new StoppingParameters { MaxNewTokens = 20 },
                };
                texts.Add((await Collect(engine.Submit(request))).GeneratedText);
            }
            return (texts.ToArray(), engine.Stats.ForwardTokens, engine.BlockPool.FreeBlockCount, engine.BlockPool.BlockCount);
        }
        var on = await Run(true);
        var off = await Run(false);
        Assert.Equal(off.Texts, on.Texts);
        // Off: 3 x (16 prompt + 19 decode) rows. On: the 2nd and 3rd requests compute 1 prompt row instead of 16.
        Assert.Equal(3 * (16 + 19), off.Computed);
        Assert.Equal(3 * (16 + 19) - 2 * 15, on.Computed);
        Assert.Equal(on.Total, on.FreeAfter);
    }

    [Fact]
    public async Task Cancelling_a_request_frees_its_blocks()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        await using var engine = EngineTestModels.Start(m, new EngineOptions { KvCacheTokens = 2048 });
        using var cts = new CancellationTokenSource();
        await using var events = engine.Submit(Request(m, "Once upon a time", 400, 1), cts.Token).GetAsyncEnumerator();
        await events.MoveNextAsync();  // it is running
        Assert.True(engine.BlockPool.FreeBlockCount < engine.BlockPool.BlockCount);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => { while (await events.MoveNextAsync()) { } });
        for (int i = 0; i < 100 && engine.BlockPool.FreeBlockCount != engine.BlockPool.BlockCount; i++) await Task.Delay(10);
        Assert.Equal(engine.BlockPool.BlockCount, engine.BlockPool.FreeBlockCount);
    }

    [Fact]
    public async Task Stop_sequence_across_tokens_ends_generation_and_keeps_the_stop_text()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        await using var engine = EngineTestModels.Start(m);
        var result = await Collect(engine.Submit(new GenerationRequest
        {
            PromptTokens = m.Tokenizer.EncodeToIds("Once upon a time"),
            Stopping = new StoppingParameters { MaxNewTokens = 100, StopSequences = ["girl na"] },
        }));
        Assert.Equal(FinishReason.StopSequence, result.FinishReason);
        Assert.Equal(", there was a little girl na", result.GeneratedText);
        Assert.Equal("girl na", result.StopSequence);
    }
}
