using System.Text.Json;

namespace Inkwell.Models.Families;

/// <summary>
/// Qwen1.5-MoE and Qwen2-MoE: the Qwen 2 block (Q/K/V biases) with every feed-forward routed. llama.cpp's qwen2moe
/// graph takes a softmax over all experts and keeps the top k without renormalizing, and adds a shared expert
/// (expert_shared_feed_forward_length, or feed_forward_length) scaled per token by sigmoid(x·ffn_gate_inp_shexp).
/// The Qwen MoE families' common key reading lives here too.
/// </summary>
internal static class Qwen2Moe
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "qwen2moe",
        HuggingFaceTypes = ["qwen2_moe"],
        FromGguf = (m, c) =>
        {
            int shared = m.Int("expert_shared_feed_forward_length", 0);
            return c with { Experts = FromGguf(m, c, shared > 0 ? shared : c.HiddenDim, normalizeWeights: false) with { SharedExpertGate = true } };
        },
        FromHuggingFace = (j, c) => c with
        {
            Experts = FromHuggingFace(j, j.Int("shared_expert_intermediate_size")) with { SharedExpertGate = true },
        },
    };

    /// <summary>Experts of expert_feed_forward_length (feed_forward_length / used count when absent), softmax top-k.</summary>
    internal static ExpertsConfig FromGguf(GgufMetadata m, ModelConfig c, int sharedHiddenDim, bool normalizeWeights)
    {
        int used = m.Int("expert_used_count", 0);
        int expertHidden = m.Int("expert_feed_forward_length", 0);
        if (expertHidden == 0 && used > 0) expertHidden = c.HiddenDim / used;
        return ExpertsConfig.FromGguf(m, expertHidden, sharedHiddenDim, ExpertGating.Softmax, normalizeWeights)
            ?? throw Gguf.GgufFile.Bad(m.File.Path, $"{m.Architecture} needs expert_count > 0");
    }

    /// <summary>
    /// transformers' Qwen MoE blocks: softmax, top k, renormalized only when norm_topk_prob is set (the config classes
    /// default it to false). Dense layers between sparse ones (decoder_sparse_step, mlp_only_layers) are refused.
    /// </summary>
    internal static ExpertsConfig FromHuggingFace(HuggingFaceConfig j, int sharedHiddenDim)
    {
        if (j.Int("decoder_sparse_step", 1) != 1
            || (j.Root.TryGetProperty("mlp_only_layers", out var dense) && dense.ValueKind == JsonValueKind.Array && dense.GetArrayLength() > 0))
            throw j.Bad("dense layers between sparse ones (decoder_sparse_step != 1 or mlp_only_layers) are not supported");
        bool normalize = j.Root.TryGetProperty("norm_topk_prob", out var n) && n.ValueKind == JsonValueKind.True;
        return ExpertsConfig.FromHuggingFace(j, "num_experts", j.Int("moe_intermediate_size"), sharedHiddenDim, ExpertGating.Softmax, normalize)
            ?? throw j.Bad($"{j.String("model_type")} needs num_experts > 0");
    }
}
