namespace Inkwell.Models.Families;

/// <summary>
/// Llama 2/3.x, Mistral, TinyLlama, SmolLM 1/2: the plain pre-norm SwiGLU block. Llama 3.1+ RoPE scaling comes as
/// GGUF rope_freqs (read by the common loader) or config.json rope_scaling "llama3" (turned into the same factors).
/// llama.cpp's llama graph applies biases and per-tensor scales wherever a file has them. Mixtral is a llama with experts.
/// </summary>
internal static class Llama
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "llama",
        HuggingFaceTypes = ["llama", "mistral", "mixtral"],
        GgufRopeStyle = RopeStyle.Interleaved,
        FeedForwardScales = true,
        // Mixtral-style experts (expert_count > 0): llama.cpp's llama graph routes by softmax, top-k, renormalize, with
        // experts of feed_forward_length and no shared expert.
        FromGguf = (m, c) => c with
        {
            AttentionScale = m.Float("attention.scale", 0f),
            Experts = ExpertsConfig.FromGguf(m, c.HiddenDim, 0, ExpertGating.Softmax, normalizeWeights: true),
        },
        // Mixtral: softmax over all experts, top k, renormalized (the same weights as a softmax over the k chosen).
        // Mistral 7B v0.1 attends over a 4096-token window in every layer (config.json sliding_window; null later).
        FromHuggingFace = (j, c) =>
        {
            c = c with { Experts = ExpertsConfig.FromHuggingFace(j, "num_local_experts", c.HiddenDim, 0, ExpertGating.Softmax, normalizeWeights: true) };
            return j.Int("sliding_window", 0) is > 0 and var window && window < c.ContextLength
                ? c with { SlidingWindow = window, SlidingLayers = Enumerable.Repeat(true, c.LayerCount).ToArray() }
                : c;
        },
    };
}
