using Inkwell.Models;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;

namespace Inkwell.Engine.Tests;

/// <summary>The embedded stories260K and its author's greedy text (external golden output).</summary>
public static class EngineTestModels
{
    public static string Gguf => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");
    public static string Llama2c => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K.bin");
    public static string Llama2cQ8 => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K_q80_gs4.bin");
    public static string Tok512 => Path.Combine(RepoPaths.EmbeddedModelDir, "tok512.bin");
    public static string GoldenGreedy => RepoPaths.GoldenGreedyText;

    public static InferenceEngine Start(LoadedModel model, EngineOptions? options = null, int threads = 1) =>
        new(model.CreateModel(new WorkerPool(threads)), model.Tokenizer, options ?? new EngineOptions { KvCacheTokens = 2048 });
}
