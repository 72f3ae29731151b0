using Inkwell.Engine.Requests;
using Inkwell.Models.Loading;

namespace Inkwell.Engine.Tests;

/// <summary>Greedy decoding from BOS must reproduce the model author's published text, from every file format.</summary>
public class GoldenGenerationTests
{
    private static async Task<string> GreedyFromBos(LoadedModel model, int tokens = 256, int threads = 1)
    {
        await using var engine = EngineTestModels.Start(model, threads: threads);
        var events = engine.Submit(new GenerationRequest
        {
            PromptTokens = [model.Tokenizer.BosId],
            Stopping = new StoppingParameters { MaxNewTokens = tokens },
        });
        GenerationResult? result = null;
        await foreach (var e in events.ReadAllAsync()) if (e is GenerationFinished f) result = f.Result;
        Assert.NotNull(result);
        Assert.Equal(FinishReason.Length, result.FinishReason);
        Assert.Equal(tokens, result.GeneratedTokenCount);
        return result.GeneratedText;
    }

    [Fact]
    public async Task Gguf_f32_reproduces_the_golden_text()
    {
        using var model = ModelLoader.Load(EngineTestModels.Gguf);
        Assert.Equal(EngineTestModels.GoldenGreedy, await GreedyFromBos(model));
    }

    [Fact]
    public async Task Gguf_with_two_threads_reproduces_the_golden_text()
    {
        using var model = ModelLoader.Load(EngineTestModels.Gguf);
        Assert.Equal(EngineTestModels.GoldenGreedy, await GreedyFromBos(model, threads: 2));
    }

    [Fact]
    public async Task Llama2c_checkpoint_reproduces_the_golden_text()
    {
        using var model = ModelLoader.Load(EngineTestModels.Llama2c, EngineTestModels.Tok512);
        Assert.Equal(EngineTestModels.GoldenGreedy, await GreedyFromBos(model));
    }

    [Fact]
    public async Task Llama2c_q8_export_matches_the_golden_text_for_its_first_three_lines()
    {
        // The export's int8 groups of 4 move the weights by up to 0.0056. Greedy decoding follows the golden text for its
        // first 448 characters (three full lines), then a near-tie flips. A re-creation of llama2.c runq.c's own arithmetic
        // (int8 activations in groups of 4, integer dot products) flips at the same character, so no faithful reader of
        // this file reproduces all 256 tokens; the check is the part both agree on. See docs/architecture.md.
        using var model = ModelLoader.Load(EngineTestModels.Llama2cQ8, EngineTestModels.Tok512);
        string text = await GreedyFromBos(model);
        string firstThree = string.Join('\n', EngineTestModels.GoldenGreedy.Split('\n').Take(3));
        Assert.StartsWith(firstThree, text);
    }

    [Fact]
    public async Task Prompt_continuation_is_the_golden_text_after_the_prompt()
    {
        using var model = ModelLoader.Load(EngineTestModels.Gguf);
        var prompt = model.Tokenizer.EncodeToIds("Once upon a time");
        Assert.Equal(new[] { 1, 403, 407, 261, 378 }, prompt);  // given by the model's README
        await using var engine = EngineTestModels.Start(model);
        var events = engine.Submit(new GenerationRequest { PromptTokens = prompt, Stopping = new StoppingParameters { MaxNewTokens = 60 } });
        GenerationResult? result = null;
        await foreach (var e in events.ReadAllAsync()) if (e is GenerationFinished f) result = f.Result;
        Assert.True(result!.GeneratedText.Length > 100, result.GeneratedText);
        Assert.StartsWith(result.GeneratedText, EngineTestModels.GoldenGreedy["Once upon a time".Length..]);
    }
}
