using Inkwell.Engine.Requests;
using Inkwell.Models.Loading;

namespace Inkwell.Engine.Tests;

/// <summary>The output stage over the engine: stop sequences kept or dropped, streamed text, EOS knobs.</summary>
public class GenerationStreamTests
{
    private static async Task<(GenerationResult Result, string Streamed)> Run(InferenceEngine engine, GenerationRequest request)
    {
        GenerationResult? result = null;
        var streamed = new System.Text.StringBuilder();
        await foreach (var e in engine.Submit(request))
        {
            if (e is GenerationFailed f) Assert.Fail(f.Message);
            if (e is TokenGenerated t) streamed.Append(t.TextDelta);
            if (e is GenerationFinished done) result = done.Result;
        }
        return (result!, streamed.ToString());
    }

    [Fact]
    public async Task A_dropped_stop_sequence_is_neither_streamed_nor_in_the_text()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        await using var engine = EngineTestModels.Start(m);
        // The golden greedy continuation of "Once upon a time" begins ", there was a little girl named ...".
        var (result, streamed) = await Run(engine, new GenerationRequest
        {
            PromptTokens = m.Tokenizer.EncodeToIds("Once upon a time"),
            Stopping = new StoppingParameters { MaxNewTokens = 100, StopSequences = ["girl na"], IncludeStopSequence = false },
        });
        Assert.Equal(FinishReason.StopSequence, result.FinishReason);
        Assert.Equal(", there was a little ", result.GeneratedText);
        Assert.Equal(result.GeneratedText, streamed);
        Assert.Equal("girl na", result.StopSequence);
    }

    [Fact]
    public async Task Min_new_tokens_and_ignore_eos_run_past_an_end_of_generation()
    {
        using var m = ModelLoader.Load(EngineTestModels.Gguf);
        await using var engine = EngineTestModels.Start(m);
        var prompt = m.Tokenizer.EncodeToIds("Once upon a time");
        // TGIS's length penalty (start 5, decay 3) makes the greedy story end early on EOS; the knobs must override it.
        GenerationRequest Story(StoppingParameters stopping) => new()
        {
            PromptTokens = prompt,
            LengthPenalty = new LengthPenalty(5, 3f),
            Stopping = stopping,
        };
        var free = (await Run(engine, Story(new StoppingParameters { MaxNewTokens = 60 }))).Result;
        Assert.Equal(FinishReason.EosToken, free.FinishReason);
        int ends = free.GeneratedTokenCount;

        var min = (await Run(engine, Story(new StoppingParameters { MaxNewTokens = 250, MinNewTokens = ends + 5 }))).Result;
        Assert.True(min.GeneratedTokenCount >= ends + 5, $"{min.GeneratedTokenCount} tokens");
        Assert.DoesNotContain(min.Tokens.Take(ends + 4), t => m.Tokenizer.IsEndOfGeneration(t.Id));

        var ignore = (await Run(engine, Story(new StoppingParameters { MaxNewTokens = ends + 20, IgnoreEos = true }))).Result;
        Assert.Equal(FinishReason.Length, ignore.FinishReason);
        Assert.Equal(ends + 20, ignore.GeneratedTokenCount);
        Assert.DoesNotContain(ignore.Tokens, t => m.Tokenizer.IsEndOfGeneration(t.Id));
        // Up to where the free story ended nothing differs: the suppression only touches the end tokens.
        Assert.Equal(free.Tokens.Take(ends - 1).Select(t => t.Id), ignore.Tokens.Take(ends - 1).Select(t => t.Id));
    }
}
