namespace Inkwell.Models.Families;

/// <summary>
/// Llama 2/3.x, Mistral, TinyLlama, SmolLM 1/2: the plain pre-norm SwiGLU block. Llama 3.1+ RoPE scaling comes as
/// GGUF rope_freqs (read by the common loader) or config.json rope_scaling "llama3" (turned into the same factors).
/// llama.cpp's llama graph applies biases and per-tensor scales wherever a file has them.
/// </summary>
internal static class Llama
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "llama",
        HuggingFaceTypes = ["llama", "mistral"],
        GgufRopeStyle = RopeStyle.Interleaved,
        FeedForwardScales = true,
        FromGguf = (m, c) => c with { AttentionScale = m.Float("attention.scale", 0f) },
        // Mistral 7B v0.1 attends over a 4096-token window in every layer (config.json sliding_window; null later).
        FromHuggingFace = (j, c) => j.Int("sliding_window", 0) is > 0 and var window && window < c.ContextLength
            ? c with { SlidingWindow = window, SlidingLayers = Enumerable.Repeat(true, c.LayerCount).ToArray() }
            : c,
    };
}
