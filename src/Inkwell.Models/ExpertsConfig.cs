using Inkwell.Models.Families;

namespace Inkwell.Models;

/// <summary>How a mixture of experts turns router logits into expert weights (llama.cpp's expert_gating_func).</summary>
public enum ExpertGating
{
    /// <summary>Softmax over all experts, then the top k of those probabilities (Mixtral, Qwen-MoE, Granite MoE).</summary>
    Softmax,

    /// <summary>Sigmoid of each logit, then the top k (DeepSeek V3 style).</summary>
    Sigmoid,

    /// <summary>The top k logits, then a softmax over just those (llama.cpp's SOFTMAX_WEIGHT).</summary>
    SoftmaxOverSelected,
}

/// <summary>
/// The mixture-of-experts shape of a model whose feed-forward blocks are routed: <see cref="UsedCount"/> of
/// <see cref="Count"/> experts per token, each a gated MLP of <see cref="ExpertHiddenDim"/>, plus an always-on shared
/// expert of <see cref="SharedHiddenDim"/> where the family has one. Softmax then top-k then renormalize equals
/// Mixtral's softmax over the selected logits, so one rule covers Mixtral and Qwen3-MoE (with normalization on).
/// </summary>
public sealed record ExpertsConfig
{
    public required int Count { get; init; }
    public required int UsedCount { get; init; }
    public required int ExpertHiddenDim { get; init; }
    /// <summary>Hidden size of the shared expert that every token also runs; 0 = none.</summary>
    public int SharedHiddenDim { get; init; }
    /// <summary>The shared expert's output is scaled per row by sigmoid(x·w) with its own [dim] gate (Qwen2-MoE).</summary>
    public bool SharedExpertGate { get; init; }
    public required ExpertGating Gating { get; init; }
    /// <summary>Divide the selected weights by their sum (clamped below at 2^-14, as llama.cpp does).</summary>
    public required bool NormalizeWeights { get; init; }
    /// <summary>Multiplies the final weights; 1 = none (llama.cpp treats 0 as none as well).</summary>
    public float WeightScale { get; init; } = 1f;

    /// <summary>
    /// expert_count and expert_used_count from GGUF (read by llama.cpp's loader for every architecture); null when the
    /// file has no experts. The expert and shared lengths and the routing rule are the family's: llama.cpp's graph for
    /// each architecture fixes them rather than reading them from the file.
    /// </summary>
    public static ExpertsConfig? FromGguf(GgufMetadata m, int expertHiddenDim, int sharedHiddenDim, ExpertGating gating, bool normalizeWeights)
    {
        int count = m.Int("expert_count", 0);
        if (count == 0) return null;
        return new ExpertsConfig
        {
            Count = count,
            UsedCount = m.Int("expert_used_count", 0),
            ExpertHiddenDim = expertHiddenDim,
            SharedHiddenDim = sharedHiddenDim,
            Gating = gating,
            NormalizeWeights = normalizeWeights,
        };
    }

    /// <summary>
    /// The expert count under <paramref name="countKey"/> (num_local_experts, num_experts) and num_experts_per_tok from a
    /// config.json; null when the count is absent or 0 (a dense model).
    /// </summary>
    public static ExpertsConfig? FromHuggingFace(HuggingFaceConfig j, string countKey, int expertHiddenDim, int sharedHiddenDim, ExpertGating gating, bool normalizeWeights)
    {
        int count = j.Int(countKey, 0);
        if (count == 0) return null;
        return new ExpertsConfig
        {
            Count = count,
            UsedCount = j.Int("num_experts_per_tok"),
            ExpertHiddenDim = expertHiddenDim,
            SharedHiddenDim = sharedHiddenDim,
            Gating = gating,
            NormalizeWeights = normalizeWeights,
        };
    }

    /// <summary>Rejects impossible shapes with a message naming the source.</summary>
    public void Validate(string source)
    {
        if (Count <= 0 || UsedCount <= 0 || UsedCount > Count)
            throw new InvalidDataException($"{source}: {UsedCount} experts used per token out of {Count}; need 1 <= used <= count");
        if (ExpertHiddenDim <= 0 || SharedHiddenDim < 0)
            throw new InvalidDataException($"{source}: bad expert feed-forward length {ExpertHiddenDim} (shared {SharedHiddenDim})");
        if (SharedExpertGate && SharedHiddenDim == 0)
            throw new InvalidDataException($"{source}: a shared expert gate without a shared expert");
        if (!float.IsFinite(WeightScale) || WeightScale == 0f)
            throw new InvalidDataException($"{source}: expert weight scale {WeightScale} must be finite and non-zero");
    }
}
