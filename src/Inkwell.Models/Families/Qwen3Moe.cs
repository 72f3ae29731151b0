namespace Inkwell.Models.Families;

/// <summary>
/// Qwen3-MoE (30B-A3B, 235B-A22B): the Qwen 3 block with every feed-forward routed. llama.cpp's qwen3moe graph
/// takes a softmax over all experts, keeps the top k and renormalizes them, with experts of
/// expert_feed_forward_length (or feed_forward_length / used count when absent) and no shared expert.
/// </summary>
internal static class Qwen3Moe
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "qwen3moe",
        HuggingFaceTypes = ["qwen3_moe"],
        FeedForwardScales = true,
        FromGguf = (m, c) =>
        {
            int used = m.Int("expert_used_count", 0);
            int expertHidden = m.Int("expert_feed_forward_length", 0);
            if (expertHidden == 0 && used > 0) expertHidden = c.HiddenDim / used;
            var experts = ExpertsConfig.FromGguf(m, expertHidden, 0, ExpertGating.Softmax, normalizeWeights: true)
                ?? throw Gguf.GgufFile.Bad(m.File.Path, "qwen3moe needs expert_count > 0");
            return c with { QkNorm = QkNorm.PerHead, Experts = experts };
        },
        // transformers' Qwen3MoeSparseMoeBlock: softmax, top k, renormalized only when norm_topk_prob is set (the
        // released checkpoints set it; the config class defaults it to false). Dense layers between sparse ones
        // (decoder_sparse_step, mlp_only_layers) are refused: no released Qwen3-MoE has them.
        FromHuggingFace = (j, c) =>
        {
            if (j.Int("decoder_sparse_step", 1) != 1
                || (j.Root.TryGetProperty("mlp_only_layers", out var dense) && dense.ValueKind == System.Text.Json.JsonValueKind.Array && dense.GetArrayLength() > 0))
                throw j.Bad("dense layers between sparse ones (decoder_sparse_step != 1 or mlp_only_layers) are not supported");
            bool normalize = j.Root.TryGetProperty("norm_topk_prob", out var n) && n.ValueKind == System.Text.Json.JsonValueKind.True;
            var experts = ExpertsConfig.FromHuggingFace(j, "num_experts", j.Int("moe_intermediate_size"), 0, ExpertGating.Softmax, normalize)
                ?? throw j.Bad("qwen3_moe needs num_experts > 0");
            return c with { QkNorm = QkNorm.PerHead, Experts = experts };
        },
    };
}
