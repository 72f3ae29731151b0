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
    };
}
