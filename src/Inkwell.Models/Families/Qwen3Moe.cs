namespace Inkwell.Models.Families;

/// <summary>
/// Qwen3-MoE (30B-A3B, 235B-A22B): the Qwen 3 block (q/k norms) with every feed-forward routed. llama.cpp's qwen3moe
/// graph takes a softmax over all experts, keeps the top k and renormalizes them, with experts of
/// expert_feed_forward_length (or feed_forward_length / used count when absent) and no shared expert. Hugging Face
/// renormalizes when norm_topk_prob is set, as the released checkpoints do.
/// </summary>
internal static class Qwen3Moe
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "qwen3moe",
        HuggingFaceTypes = ["qwen3_moe"],
        FeedForwardScales = true,
        FromGguf = (m, c) => c with { QkNorm = QkNorm.PerHead, Experts = Qwen2Moe.FromGguf(m, c, 0, normalizeWeights: true) },
        FromHuggingFace = (j, c) => c with { QkNorm = QkNorm.PerHead, Experts = Qwen2Moe.FromHuggingFace(j, 0) },
    };
}
