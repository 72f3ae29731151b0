using Inkwell.Models.Hub;
using Inkwell.Models.Loading;
using Inkwell.Runtime.Quantization;

namespace Inkwell.Cli.Commands;

/// <summary>Where the embedded default model lives and how commands find and open a model.</summary>
public static class ModelOptions
{
    /// <summary>How every command's help names what --model accepts.</summary>
    public const string ModelHelp = """
        A model is a local GGUF file, llama2.c checkpoint or Hugging Face directory, or a Hub model id
        org/name[@revision][:QUANT], taken from the Hugging Face cache (HF_HUB_CACHE, HF_HOME/hub,
        ~/.cache/huggingface/hub; shared with Python tools) or downloaded into it (HF_ENDPOINT, HF_TOKEN;
        HF_HUB_OFFLINE=1 uses the cache only). :QUANT picks a GGUF repository's file as llama.cpp's -hf does.
        """;

    /// <summary>stories260K, shipped beside the program (copied from the repository's models/ folder).</summary>
    public static string EmbeddedModelPath => Path.Combine(AppContext.BaseDirectory, "models", "stories260K", "stories260K-f32.gguf");

    /// <summary>The path to open for what the user typed: the embedded model when nothing, a local path as it is,
    /// a Hub model id from the cache or downloaded (with a progress display on stderr).</summary>
    public static string Resolve(string? model, string? revision = null)
    {
        if (model is null)
            return revision is null ? EmbeddedModelPath : throw new UsageException("--revision needs a Hub model id (--model-id org/name)");
        using var progress = new DownloadProgress();
        using var resolver = HubModelResolver.FromEnvironment(progress);
        return resolver.Resolve(model, revision);
    }

    public static LoadedModel Open(string? model, string? tokenizerPath, string? quantize = null, string? revision = null) =>
        ModelLoader.Load(Resolve(model, revision), tokenizerPath, quantize is null ? null : QuantizationScheme.Parse(quantize));

    public static int DefaultThreads => Math.Max(1, Environment.ProcessorCount);
}
