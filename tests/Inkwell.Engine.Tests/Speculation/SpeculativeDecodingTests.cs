using Inkwell.Engine.Requests;
using Inkwell.Engine.Sampling;
using Inkwell.Engine.Speculation;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;

namespace Inkwell.Engine.Tests.Speculation;

/// <summary>
/// Speculative decoding must not change what the target generates: greedy output with drafts (prompt lookup, and a
/// draft model = a second instance of stories260K) equals plain decoding token for token, alone and batched, with the
/// prefix cache on and off (the draft model's cache reusing prefixes as the target's does); and every KV block (the
/// target's and the draft model's) is free afterwards.
/// </summary>
public class SpeculativeDecodingTests
{
    private const string Shared = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";
    private static readonly string[] Prompts =
    [
        "Once upon a time", "The little dog", "Lily and Ben went to the park", Shared + " One day",
        "Tom had a red ball", Shared + " She saw", "Sue liked to sing", "There was a cat",
    ];

    public enum Drafter { None, PromptLookup, Model }

    private static EngineOptions Options(LoadedModel m, Drafter drafter, bool prefixCaching, int draftTokens = 4) => new()
    {
        KvCacheTokens = 4096,
        BlockSize = 4,
        PrefixCaching = prefixCaching,
        Speculation = drafter switch
        {
            Drafter.None => null,
            Drafter.PromptLookup => new SpeculationOptions { MaxDraftTokens = draftTokens },
            _ => new SpeculationOptions { MaxDraftTokens = draftTokens, DraftModel = m.CreateModel(new WorkerPool(1)), DraftTokenizer = m.Tokenizer },
        },
    };

    private static GenerationRequest Greedy(LoadedModel m, string prompt, int maxNew = 48) => new()
    {
        PromptTokens = m.Tokenizer.EncodeToIds(prompt),
        Stopping = new StoppingParameters { MaxNewTokens = maxNew },
    };

    private static Task<GenerationResult> Collect(GenerationStream events) => GenerationResults.Collect(events);

    private static void AssertAllBlocksFree(InferenceEngine engine)
    {
        Assert.Equal(engine.BlockPool.BlockCount, engine.BlockPool.FreeBlockCount);
        if (engine.Drafter is DraftModelDrafter d) Assert.Equal(d.Pool.BlockCount, d.Pool.FreeBlockCount);
    }

    /// <summary>Every prompt's result, submitted all at once (batched) or one after another (alone).</summary>
    /// <param name="inspect">Looks at the engine after the run, before it is disposed.</param>
    private static async Task<(GenerationResult[] Results, EngineStats Stats)> Run(LoadedModel m, EngineOptions options, bool batched,
        Func<LoadedModel, string, GenerationRequest>? request = null, Action<InferenceEngine>? inspect = null)
    {
        request ??= (model, prompt) => Greedy(model, prompt);
        await using var engine = EngineTestModels.Start(m, options);
        GenerationResult[] results;
        if (batched) results = await Task.WhenAll(Prompts.Select(p => Collect(engine.Submit(request(m, p)))));
        else
        {
            results = new GenerationResult[Prompts.Length];
            for (int i = 0; i < Prompts.Length; i++) results[i] = await Collect(engine.Submit(request(m, Prompts[i])));
        }
        // Blocks return when the engine removes a request, just before its last event: wait for the step to end.
        await Task.Delay(50);
        AssertAllBlocksFree(engine);
        inspect?.Invoke(engine);
        return (results, engine.Stats);
    }

    private static int[] Ids(GenerationResult r) => r.Tokens.Select(t => t.Id).ToArray();

    [Theory]
    [InlineData(Drafter.PromptLookup, false, true)]
    [InlineData(Drafter.PromptLookup, false, false)]
    [InlineData(Drafter.PromptLookup, true, true)]
    [InlineData(Drafter.PromptLookup, true, false)]
    [InlineData(Drafter.Model, false, true)]
    [InlineData(Drafter.Model, false, false)]
    [InlineData(Drafter.Model, true, true)]
    [InlineData(Drafter.Model, true, false)]
    public async Task Greedy_output_with_drafts_equals_plain_decoding_token_for_token(Drafter drafter, bool batched, bool prefixCaching)
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        var (plain, _) = await Run(m, Options(m, Drafter.None, prefixCaching), batched: false);
        long draftPrefixHits = 0;
        var (speculative, stats) = await Run(m, Options(m, drafter, prefixCaching), batched,
            inspect: engine => draftPrefixHits = engine.Drafter is DraftModelDrafter d ? d.Pool.PrefixHits : 0);
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(Ids(plain[i]), Ids(speculative[i]));
            Assert.Equal(plain[i].GeneratedText, speculative[i].GeneratedText);
            Assert.Equal(plain[i].FinishReason, speculative[i].FinishReason);
        }
        Assert.True(stats.SpecDraftedTokens > 0, "nothing was drafted");
        Assert.True(stats.SpecAcceptedTokens > 0, "no draft was accepted");
        // A copy of the target drafting for itself is right every time, also from draft KV another request left in
        // the draft cache (one after another, the second prompt with the shared prefix finds it there).
        if (drafter == Drafter.Model) Assert.Equal(stats.SpecDraftedTokens, stats.SpecAcceptedTokens);
        if (drafter == Drafter.Model && !batched) Assert.Equal(prefixCaching, draftPrefixHits > 0);
    }

    [Theory]
    [InlineData(Drafter.PromptLookup)]
    [InlineData(Drafter.Model)]
    public async Task Processors_see_each_draft_position_as_plain_decoding_would(Drafter drafter)
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        // Penalties that depend on the tokens before each position, a bias, top tokens and ranks: all per position.
        GenerationRequest Request(LoadedModel model, string prompt) => Greedy(model, prompt, 40) with
        {
            Sampling = new SamplingParameters { RepetitionPenalty = 1.1f, FrequencyPenalty = 0.1f, PresencePenalty = 0.1f },
            LogitBias = new Dictionary<int, float> { [model.Tokenizer.EncodeToIds(" the", addSpecialTokens: false)[0]] = 1.5f },
            TopNTokens = 3,
            TokenRanks = true,
        };
        var (plain, _) = await Run(m, Options(m, Drafter.None, true), batched: true, Request);
        var (speculative, stats) = await Run(m, Options(m, drafter, true), batched: true, Request);
        Assert.True(stats.SpecAcceptedTokens > 0, "no draft was accepted");
        for (int i = 0; i < Prompts.Length; i++)
        {
            Assert.Equal(Ids(plain[i]), Ids(speculative[i]));
            for (int t = 0; t < plain[i].Tokens.Count; t++)
            {
                Assert.Equal(plain[i].Tokens[t].Rank, speculative[i].Tokens[t].Rank);
                Assert.Equal(plain[i].Tokens[t].LogProb, speculative[i].Tokens[t].LogProb, 1e-3f);
                Assert.Equal(plain[i].TopTokens![t].Select(x => x.Id), speculative[i].TopTokens![t].Select(x => x.Id));
            }
        }
    }

    [Fact]
    public async Task Stop_sequences_and_max_tokens_end_speculative_requests_exactly_where_plain_ones_end()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        var (free, _) = await Run(m, Options(m, Drafter.None, true), batched: true, (model, p) => Greedy(model, p, 200));
        // A stop sequence taken from the middle of the first text; short budgets that end inside accepted drafts.
        string stop = free[0].GeneratedText.Substring(free[0].GeneratedText.Length / 2, 6);
        GenerationRequest Request(LoadedModel model, string prompt)
        {
            int i = Array.IndexOf(Prompts, prompt);
            return Greedy(model, prompt) with { Stopping = new StoppingParameters { MaxNewTokens = i % 2 == 0 ? 200 : 7 + i, StopSequences = [stop] } };
        }
        var (plain, _) = await Run(m, Options(m, Drafter.None, true), batched: true, Request);
        foreach (var drafter in new[] { Drafter.PromptLookup, Drafter.Model })
        {
            var (speculative, _) = await Run(m, Options(m, drafter, true, draftTokens: 6), batched: true, Request);
            for (int i = 0; i < Prompts.Length; i++)
            {
                Assert.Equal(plain[i].GeneratedText, speculative[i].GeneratedText);
                Assert.Equal(plain[i].FinishReason, speculative[i].FinishReason);
                Assert.Equal(plain[i].StopSequence, speculative[i].StopSequence);
                Assert.Equal(Ids(plain[i]), Ids(speculative[i]));
            }
        }
        Assert.Equal(FinishReason.StopSequence, plain[0].FinishReason);
        Assert.Contains(plain, r => r.FinishReason == FinishReason.Length);
        Assert.All(plain.Where((_, i) => i % 2 == 1), r => Assert.True(r.GeneratedTokenCount <= 14));
    }

    [Theory]
    [InlineData(Drafter.PromptLookup)]
    [InlineData(Drafter.Model)]
    public async Task A_tiny_kv_pool_preempts_drafting_requests_and_they_still_match_plain_decoding(Drafter drafter)
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        var (plain, _) = await Run(m, Options(m, Drafter.None, true), batched: false);
        // 8 requests of up to ~80 tokens need ~600 slots; 160 force preemption, with drafts in flight.
        var tight = Options(m, drafter, true) with { KvCacheTokens = 160 };
        var (speculative, stats) = await Run(m, tight, batched: true);
        Assert.True(stats.Preemptions > 0, "the tiny pool should have forced a preemption");
        Assert.True(stats.SpecAcceptedTokens > 0, "no draft was accepted");
        for (int i = 0; i < Prompts.Length; i++) Assert.Equal(Ids(plain[i]), Ids(speculative[i]));
    }

    /// <summary>Drafts the known plain output of each request, then junk past its end: every draft up to the end is accepted.</summary>
    private sealed class OracleDrafter(Dictionary<GenerationRequest, int[]> expected, int junk) : IDrafter
    {
        public bool CanDraft(EngineRequest request) => true;

        public void Propose(ReadOnlySpan<DraftSlot> slots)
        {
            foreach (var slot in slots)
            {
                var r = slot.Request;
                var known = expected[r.Request];
                for (int i = 0; i < slot.MaxTokens; i++)
                    r.Draft!.Tokens[i] = r.GeneratedCount + i < known.Length ? known[r.GeneratedCount + i] : junk;
                r.Draft!.Count = slot.MaxTokens;
                r.Draft.Sampled = false;
            }
        }

        public void Rollback(EngineRequest request, int validTokens) { }

        public void Release(EngineRequest request) { }
    }

    [Fact]
    public async Task Eos_and_max_tokens_inside_accepted_drafts_end_the_request_and_nothing_after_them_is_emitted()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        var eos = m.Tokenizer.EosId;
        // stories260K never saw EOS in training: a bias on it makes greedy decoding end with EOS somewhere (the
        // smallest bias that does so mid-sequence is searched); odd prompts end by max_new_tokens instead.
        GenerationRequest[] requests = [];
        GenerationResult[] plain = [];
        async Task<GenerationResult[]> Run(EngineOptions options)
        {
            await using var engine = EngineTestModels.Start(m, options);
            var results = await Task.WhenAll(requests.Select(r => Collect(engine.Submit(r))));
            AssertAllBlocksFree(engine);
            return results;
        }
        foreach (float bias in new[] { 15f, 20f, 25f, 30f, 35f })
        {
            requests = Prompts.Select((p, i) => Greedy(m, p, i % 2 == 0 ? 120 : 9 + i) with
            {
                LogitBias = i % 2 == 0 ? new Dictionary<int, float> { [eos] = bias } : null,
            }).ToArray();
            plain = await Run(Options(m, Drafter.None, true));
            if (plain.Any(r => r.FinishReason == FinishReason.EosToken && r.GeneratedTokenCount > 5)) break;
        }
        Assert.Contains(plain, r => r.FinishReason == FinishReason.EosToken && r.GeneratedTokenCount > 5);
        var expected = requests.Select((r, i) => (r, Ids(plain[i]))).ToDictionary(x => x.r, x => x.Item2);
        int junk = m.Tokenizer.EncodeToIds("zebra", addSpecialTokens: false)[0];
        var speculative = await Run(Options(m, Drafter.None, true) with
        {
            Speculation = new SpeculationOptions { MaxDraftTokens = 5, Drafter = new OracleDrafter(expected, junk) },
        });
        for (int i = 0; i < requests.Length; i++)
        {
            Assert.Equal(Ids(plain[i]), Ids(speculative[i]));
            Assert.Equal(plain[i].FinishReason, speculative[i].FinishReason);
        }
    }

    [Fact]
    public async Task Sampled_requests_with_drafts_are_reproducible_from_their_seed_and_free_every_block()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        GenerationRequest Request(LoadedModel model, string prompt) => Greedy(model, prompt, 40) with
        {
            Sampling = new SamplingParameters { DoSample = true, Temperature = 0.8f, TopK = 20, Seed = (ulong)prompt.Length },
        };
        var (first, stats) = await Run(m, Options(m, Drafter.Model, true), batched: true, Request);
        var (again, _) = await Run(m, Options(m, Drafter.Model, true), batched: false, Request);
        Assert.True(stats.SpecAcceptedTokens > 0, "no draft was accepted");
        for (int i = 0; i < Prompts.Length; i++) Assert.Equal(Ids(first[i]), Ids(again[i]));
    }

    [SharedFact]
    public async Task A_draft_model_with_another_vocabulary_is_refused()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        using var other = ModelLoader.Load(RepoPaths.InShared("arch-models", "llama-dense.gguf"));
        var options = new EngineOptions
        {
            KvCacheTokens = 256,
            Speculation = new SpeculationOptions { MaxDraftTokens = 4, DraftModel = other.CreateModel(new WorkerPool(1)), DraftTokenizer = other.Tokenizer },
        };
        var e = Assert.Throws<ArgumentException>(() => EngineTestModels.Start(m, options));
        Assert.Contains("must share the target's vocabulary", e.Message);
        await Task.CompletedTask;
    }
}
