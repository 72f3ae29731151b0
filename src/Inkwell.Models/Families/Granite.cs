namespace Inkwell.Models.Families;

/// <summary>
/// IBM Granite 3.x, dense or with experts (Granite MoE is GGUF granite with expert_count > 0, and HF granitemoe or
/// granitemoeshared): the Llama block with multipliers on the embeddings, on each sub-block's output before the
/// residual add, on attention scores (instead of 1/sqrt(head dim)) and on the logits (divided by logit_scale).
/// GGUF's rope.scaling.finetuned = false switches RoPE off.
/// </summary>
internal static class Granite
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "granite",
        HuggingFaceTypes = ["granite", "granitemoe", "granitemoeshared"],
        GgufRopeStyle = RopeStyle.Interleaved,
        FromGguf = (m, c) => c with
        {
            EmbeddingScale = NonZero(m.Float("embedding_scale", 0f)),
            ResidualScale = NonZero(m.Float("residual_scale", 0f)),
            AttentionScale = m.Float("attention.scale", 0f),
            LogitScale = 1f / NonZero(m.File.Get<float>("granite.logit_scale")),
            NoRopeLayers = m.Bool("rope.scaling.finetuned", true) ? [] : Enumerable.Repeat(true, c.LayerCount).ToArray(),
            // Granite MoE (and MoE Shared): experts of feed_forward_length, softmax top-k renormalized.
            Experts = ExpertsConfig.FromGguf(m, c.HiddenDim, m.Int("expert_shared_feed_forward_length", 0), ExpertGating.Softmax, normalizeWeights: true),
        },
        FromHuggingFace = (j, c) => c with
        {
            EmbeddingScale = j.Float("embedding_multiplier", 1f),
            ResidualScale = j.Float("residual_multiplier", 1f),
            AttentionScale = j.Float("attention_multiplier", 1f),  // transformers' default, unlike llama.cpp's
            LogitScale = 1f / NonZero(j.Float("logits_scaling", 1f)),
            // GraniteMoeTopKGating: top k of the logits, then a softmax over those k.
            Experts = ExpertsConfig.FromHuggingFace(j, "num_local_experts", c.HiddenDim, j.Int("shared_intermediate_size", 0),
                ExpertGating.SoftmaxOverSelected, normalizeWeights: false),
        },
    };

    // llama.cpp treats a multiplier of 0 as absent.
    private static float NonZero(float v) => v == 0f ? 1f : v;
}
