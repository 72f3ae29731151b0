using Inkwell.Models.Loading;
using Inkwell.Runtime.Quantization;

namespace Inkwell.Cli.Commands;

/// <summary>Where the embedded default model lives and how commands open a model.</summary>
public static class ModelOptions
{
    /// <summary>stories260K, shipped beside the program (copied from the repository's models/ folder).</summary>
    public static string EmbeddedModelPath => Path.Combine(AppContext.BaseDirectory, "models", "stories260K", "stories260K-f32.gguf");

    public static LoadedModel Open(string? modelPath, string? tokenizerPath, string? quantize = null) =>
        ModelLoader.Load(modelPath ?? EmbeddedModelPath, tokenizerPath, quantize is null ? null : QuantizationScheme.Parse(quantize));

    public static int DefaultThreads => Math.Max(1, Environment.ProcessorCount);
}
