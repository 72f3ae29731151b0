using Inkwell.Engine.Requests;
using Inkwell.Models.Loading;
using Inkwell.Models.Lora;
using Inkwell.TestSupport;

namespace Inkwell.Engine.Tests.Lora;

/// <summary>
/// Adapters through the engine: concurrent requests of different adapters share steps and each still equals its merged
/// model (tests/fixtures/lora, merged in numpy by make-lora.py); prefix-cache blocks are never shared across adapters.
/// </summary>
public sealed class LoraEngineTests
{
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

    private static string Fixture(string name) => RepoPaths.InRoot("tests", "fixtures", "lora", name);

    private static LoadedModel LoadAdapted()
    {
        var model = ModelLoader.Load(EngineTestModels.Llama2c, EngineTestModels.Tok512);
        LoraAdapterSet.Attach(model.Config, model.Weights, [("alpha", Fixture("alpha")), ("rs", Fixture("rs")), ("alpha-gguf", Fixture("alpha.gguf"))]);
        return model;
    }

    private static GenerationRequest Greedy(LoadedModel m, LoraAdapter? adapter, string prompt = Prompt) => new()
    {
        PromptTokens = m.Tokenizer.EncodeToIds(prompt),
        Stopping = new StoppingParameters { MaxNewTokens = 30 },
        Adapter = adapter,
    };

    private static async Task<string> Text(GenerationStream events)
    {
        await foreach (var e in events.ReadAllAsync())
        {
            if (e is GenerationFailed f) Assert.Fail(f.Message);
            if (e is GenerationFinished done) return done.Result.GeneratedText;
        }
        throw new InvalidOperationException("no result");
    }

    private static async Task<string> Alone(string modelPath, string prompt = Prompt)
    {
        using var m = ModelLoader.Load(modelPath, EngineTestModels.Tok512);
        await using var engine = EngineTestModels.Start(m);
        return await Text(engine.Submit(Greedy(m, null, prompt)));
    }

    [Fact]
    public async Task Concurrent_requests_of_different_adapters_each_equal_their_merged_model()
    {
        using var m = LoadAdapted();
        var set = m.Weights.Adapters!;
        await using var engine = EngineTestModels.Start(m);
        string other = "The little dog";
        var runs = new[]
        {
            Text(engine.Submit(Greedy(m, set.Find("alpha")))),
            Text(engine.Submit(Greedy(m, null))),
            Text(engine.Submit(Greedy(m, set.Find("rs"), other))),
            Text(engine.Submit(Greedy(m, set.Find("alpha-gguf"), other))),
            Text(engine.Submit(Greedy(m, null, other))),
        };
        var texts = await Task.WhenAll(runs);
        Assert.Equal(await Alone(Fixture("merged-alpha.bin")), texts[0]);
        Assert.Equal(await Alone(EngineTestModels.Llama2c), texts[1]);
        Assert.Equal(await Alone(Fixture("merged-rs.bin"), other), texts[2]);
        Assert.Equal(await Alone(Fixture("merged-alpha.bin"), other), texts[3]);
        Assert.Equal(await Alone(EngineTestModels.Llama2c, other), texts[4]);
        Assert.NotEqual(texts[1], texts[0]);
    }

    [Fact]
    public async Task Prefix_cache_blocks_are_salted_by_adapter()
    {
        using var m = LoadAdapted();
        var alpha = m.Weights.Adapters!.Find("alpha")!;
        await using var engine = EngineTestModels.Start(m, new EngineOptions { KvCacheTokens = 2048, BlockSize = 4 });
        var pool = engine.BlockPool;

        string baseText = await Text(engine.Submit(Greedy(m, null)));
        long hits = pool.PrefixHits;
        // The same prompt under an adapter: no block of the base run may be reused (its KV came from other weights).
        string adapted = await Text(engine.Submit(Greedy(m, alpha)));
        Assert.Equal(hits, pool.PrefixHits);
        Assert.Equal(await Alone(Fixture("merged-alpha.bin")), adapted);
        // The same adapter again reuses its own blocks, and still gives its own text; the base still finds its blocks.
        Assert.Equal(adapted, await Text(engine.Submit(Greedy(m, alpha))));
        Assert.True(pool.PrefixHits > hits, "a repeated prompt under the same adapter should hit the prefix cache");
        hits = pool.PrefixHits;
        Assert.Equal(baseText, await Text(engine.Submit(Greedy(m, null))));
        Assert.True(pool.PrefixHits > hits);
    }

    [Fact]
    public async Task An_adapter_of_another_model_is_refused_at_submit()
    {
        using var m = LoadAdapted();
        using var other = LoadAdapted();
        await using var engine = EngineTestModels.Start(m);
        var e = Assert.Throws<ArgumentException>(() => engine.Submit(Greedy(m, other.Weights.Adapters!.Find("rs"))));
        Assert.Contains("'rs' is not attached", e.Message);
    }
}
