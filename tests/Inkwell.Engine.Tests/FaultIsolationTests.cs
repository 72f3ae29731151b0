using Inkwell.Engine.Requests;
using Inkwell.Engine.Speculation;
using Inkwell.Models;
using Inkwell.Models.Kv;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;

namespace Inkwell.Engine.Tests;

/// <summary>
/// A fault in one request (its forward pass, its logits processing) fails that request only: the others in its batch
/// finish with the model author's greedy text, and the engine stays healthy. A model whose every pass fails stops the
/// engine, so health checks see it.
/// </summary>
public sealed class FaultIsolationTests
{
    private const string Prompt = "Once upon a time";

    [Fact]
    public async Task A_request_whose_forward_pass_throws_fails_alone_and_its_batch_finishes_as_if_it_had_not_been_there()
    {
        using var loaded = ModelLoader.Load(EngineTestModels.Gguf);
        var prompt = loaded.Tokenizer.EncodeToIds(Prompt);
        // A token the healthy requests never hold: not in their prompt, nor in the text they are expected to write.
        var golden = loaded.Tokenizer.EncodeToIds(EngineTestModels.GoldenGreedy).ToHashSet();
        int poison = Enumerable.Range(3, loaded.Config.VocabSize - 3).First(t => !golden.Contains(t) && !prompt.Contains(t));
        var (model, engine) = Start(loaded, chunk => chunk.Tokens.Span.Contains(poison));
        await using var _ = engine;

        // The first request's first pass waits at the gate while the rest arrive, so they are all scheduled together.
        var first = Outcome(engine.Submit(Greedy(prompt)));
        var healthy = new[] { Outcome(engine.Submit(Greedy(prompt))), Outcome(engine.Submit(Greedy(prompt))) };
        var poisoned = Outcome(engine.Submit(Greedy([.. prompt, poison])));
        model.Gate.Set();

        var failed = await poisoned;
        Assert.Null(failed.Text);
        Assert.Contains("the forward pass failed", failed.Failure);
        Assert.Contains("poisoned", failed.Failure);
        Assert.True(model.FailedBatches > 0, "the poisoned request never shared a pass with others, so nothing was isolated");
        foreach (var run in (Result[])[await first, .. await Task.WhenAll(healthy)])
            AssertGolden(run);

        Assert.True(engine.IsHealthy);
        AssertGolden(await Outcome(engine.Submit(Greedy(prompt))));
        Assert.Equal(engine.BlockPool.BlockCount, engine.BlockPool.FreeBlockCount);
    }

    [Fact]
    public async Task A_request_whose_logits_processing_throws_fails_alone()
    {
        using var loaded = ModelLoader.Load(EngineTestModels.Gguf);
        var prompt = loaded.Tokenizer.EncodeToIds(Prompt);
        var (model, engine) = Start(loaded, _ => false);
        await using var _ = engine;

        var first = Outcome(engine.Submit(Greedy(prompt)));
        var broken = Outcome(engine.Submit(Greedy(prompt) with { Constraint = new ThrowingConstraint(masksBeforeThrowing: 3) }));
        var healthy = Outcome(engine.Submit(Greedy(prompt)));
        model.Gate.Set();

        var failed = await broken;
        Assert.Contains("processing the request's logits failed", failed.Failure);
        Assert.Contains("constraint broke", failed.Failure);
        AssertGolden(await first);
        AssertGolden(await healthy);
        Assert.True(engine.IsHealthy);
        Assert.Equal(engine.BlockPool.BlockCount, engine.BlockPool.FreeBlockCount);
    }

    [Fact]
    public async Task A_draft_model_that_throws_costs_only_its_drafts()
    {
        using var loaded = ModelLoader.Load(EngineTestModels.Gguf);
        var prompt = loaded.Tokenizer.EncodeToIds(Prompt);
        int passes = 0;
        var draft = new FaultyModel(loaded.CreateModel(new WorkerPool(1)), _ => ++passes % 10 == 0);  // drafting 4 tokens takes up to 4 passes
        draft.Gate.Set();
        var options = new EngineOptions
        {
            KvCacheTokens = 2048,
            Speculation = new SpeculationOptions { MaxDraftTokens = 4, DraftModel = draft, DraftTokenizer = loaded.Tokenizer },
        };
        await using var engine = new InferenceEngine(loaded.CreateModel(new WorkerPool(1)), loaded.Tokenizer, options);

        var runs = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Outcome(engine.Submit(Greedy(prompt)))));
        foreach (var run in runs) AssertGolden(run);
        Assert.True(engine.Stats.SpecDraftFailures > 0, "the draft model never threw");
        Assert.True(engine.Stats.SpecAcceptedTokens > 0, "no draft was ever accepted: the steps between failures did not speculate");
        Assert.True(engine.IsHealthy);
        Assert.Equal(engine.BlockPool.BlockCount, engine.BlockPool.FreeBlockCount);
    }

    [Fact]
    public async Task A_model_whose_every_pass_fails_stops_the_engine_after_eight_in_a_row()
    {
        using var loaded = ModelLoader.Load(EngineTestModels.Gguf);
        var prompt = loaded.Tokenizer.EncodeToIds(Prompt);
        var (model, engine) = Start(loaded, _ => true);
        await using var _ = engine;
        model.Gate.Set();

        for (int i = 0; i < 7; i++)
        {
            Assert.Contains("the forward pass failed", (await Outcome(engine.Submit(Greedy(prompt)))).Failure);
            Assert.True(engine.IsHealthy, $"the engine stopped after {i + 1} failed passes");
        }
        Assert.Contains("8 forward passes failed in a row", (await Outcome(engine.Submit(Greedy(prompt)))).Failure);
        Assert.False(engine.IsHealthy);
        Assert.Throws<InvalidOperationException>(() => engine.Submit(Greedy(prompt)));
    }

    /// <summary>An engine over the model wrapped in a <see cref="FaultyModel"/> (its first pass waits for the gate).</summary>
    private static (FaultyModel Model, InferenceEngine Engine) Start(LoadedModel loaded, Func<SequenceChunk, bool> poisoned)
    {
        var model = new FaultyModel(loaded.CreateModel(new WorkerPool(1)), poisoned);
        return (model, new InferenceEngine(model, loaded.Tokenizer, new EngineOptions { KvCacheTokens = 2048 }));
    }

    private static GenerationRequest Greedy(IReadOnlyList<int> prompt) => new()
    {
        PromptTokens = prompt,
        Stopping = new StoppingParameters { MaxNewTokens = 40 },
    };

    private sealed record Result(string? Text, string? Failure);

    private static async Task<Result> Outcome(GenerationStream events)
    {
        await foreach (var e in events.ReadAllAsync())
        {
            if (e is GenerationFailed f) return new Result(null, f.Message);
            if (e is GenerationFinished done) return new Result(done.Result.GeneratedText, null);
        }
        throw new InvalidOperationException("the stream ended without a result");
    }

    private static void AssertGolden(Result run)
    {
        Assert.Null(run.Failure);
        Assert.True(run.Text!.Length > 50, run.Text);
        Assert.StartsWith(run.Text, EngineTestModels.GoldenGreedy[Prompt.Length..]);
    }

    /// <summary>
    /// The model, with a forward pass that throws when any chunk matches <paramref name="poisoned"/>, and whose first
    /// pass waits for <see cref="Gate"/>.
    /// </summary>
    private sealed class FaultyModel(ICausalLM inner, Func<SequenceChunk, bool> poisoned) : ICausalLM
    {
        public ManualResetEventSlim Gate { get; } = new();
        /// <summary>Passes of more than one chunk that threw.</summary>
        public int FailedBatches;

        public ModelConfig Config => inner.Config;
        public WorkerPool Pool => inner.Pool;
        public long WeightBytes => inner.WeightBytes;
        public KvCacheStorage CreateKvCache(int blockSize, int blockCount) => inner.CreateKvCache(blockSize, blockCount);

        public ReadOnlySpan<float> Forward(ReadOnlySpan<SequenceChunk> chunks, KvCacheStorage kv)
        {
            Gate.Wait();
            foreach (var chunk in chunks)
            {
                if (!poisoned(chunk)) continue;
                if (chunks.Length > 1) FailedBatches++;
                throw new InvalidOperationException("a poisoned pass");
            }
            return inner.Forward(chunks, kv);
        }

        public void Dispose() => inner.Dispose();
    }

    /// <summary>Allows every token, and throws on its given mask.</summary>
    private sealed class ThrowingConstraint(int masksBeforeThrowing) : ITokenConstraint
    {
        private int _masks;

        public void Mask(Span<float> logits)
        {
            if (++_masks > masksBeforeThrowing) throw new InvalidOperationException("the constraint broke");
        }

        public bool Advance(int token) => true;
        public bool IsComplete => true;
        public bool IsExhausted => false;
        public ITokenConstraint CreateFresh() => new ThrowingConstraint(masksBeforeThrowing);
    }
}
