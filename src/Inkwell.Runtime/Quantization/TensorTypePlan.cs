using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Quantization;

/// <summary>One tensor as llama.cpp names it (blk.N.attn_v.weight), its GGUF dimensions (ne[0] first) and encoding.</summary>
public sealed record PlannedTensor(string Name, long[] Dimensions, GgmlType SourceType);

/// <summary>
/// Which encoding each tensor gets under a <see cref="QuantizationScheme"/>, by llama-quantize's rules
/// (src/llama-quant.cpp: tensor_allows_quantization, llama_tensor_get_type_impl, tensor_type_fallback) for its
/// default settings: no importance matrix, no overrides, not --pure. Tensors are visited in llama.cpp's loader
/// order (<see cref="LlamaCppTensorOrder"/>), as llama-quantize visits them, because its per-category counters
/// (which attn_v / ffn_down get more bits in Q4_K_M) count in that order. Rules that would pick an encoding we cannot produce (Q5_K for the
/// attention output of 8-expert models in Q4_K_M) are refused, not approximated.
/// </summary>
public sealed class TensorTypePlan
{
    private readonly Dictionary<string, GgmlType> _targets = new(StringComparer.Ordinal);

    public QuantizationScheme Scheme { get; }

    /// <param name="layerCount">{arch}.block_count.</param>
    /// <param name="expertCount">{arch}.expert_count (0 for dense models).</param>
    public TensorTypePlan(QuantizationScheme scheme, IEnumerable<PlannedTensor> tensors, int layerCount, int expertCount, string architecture)
    {
        Scheme = scheme;
        var sorted = tensors.OrderBy(t => t.Name, LlamaCppTensorOrder.Instance).ToList();
        bool tiedEmbeddings = !sorted.Exists(t => t.Name == "output.weight");
        int attentionVCount = sorted.Count(t => IsAttentionVLike(CategoryOf(t.Name)));
        var counters = new Counters();
        foreach (var t in sorted)
        {
            var target = Allowed(t) ? Choose(t, tiedEmbeddings, attentionVCount, layerCount, expertCount, architecture, counters) : t.SourceType;
            _targets[t.Name] = target;
        }
    }

    /// <summary>The encoding a tensor gets (its own when it stays as it is).</summary>
    public GgmlType TargetOf(string name) =>
        _targets.TryGetValue(name, out var t) ? t : throw new ArgumentException($"tensor '{name}' is not part of the plan");

    public IReadOnlyDictionary<string, GgmlType> Targets => _targets;

    private sealed class Counters
    {
        public int AttentionV;
        public int FfnDown;
    }

    private enum TensorCategory { Output, TokenEmbedding, AttentionQkv, AttentionKvB, AttentionV, AttentionK, AttentionQ, AttentionOutput, FfnUp, FfnGate, FfnDown, Other }

    private static TensorCategory CategoryOf(string name) =>
        name == "output.weight" ? TensorCategory.Output
        : name is "token_embd.weight" or "per_layer_token_embd.weight" ? TensorCategory.TokenEmbedding
        : name.Contains("attn_qkv.weight") ? TensorCategory.AttentionQkv
        : name.Contains("attn_kv_b.weight") ? TensorCategory.AttentionKvB
        : name.Contains("attn_v.weight") ? TensorCategory.AttentionV
        : name.Contains("attn_k.weight") ? TensorCategory.AttentionK
        : name.Contains("attn_q.weight") ? TensorCategory.AttentionQ
        : name.Contains("attn_output.weight") ? TensorCategory.AttentionOutput
        : name.Contains("ffn_up") ? TensorCategory.FfnUp
        : name.Contains("ffn_gate") ? TensorCategory.FfnGate
        : name.Contains("ffn_down") ? TensorCategory.FfnDown
        : TensorCategory.Other;

    private static bool IsAttentionVLike(TensorCategory c) => c is TensorCategory.AttentionV or TensorCategory.AttentionQkv or TensorCategory.AttentionKvB;

    /// <summary>Names llama-quantize never quantizes (besides 1-D tensors and names not ending in "weight").</summary>
    private static readonly string[] s_keptSubstrings =
    [
        "_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight", "indexer.q_proj.weight",
        "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight", "time_mix_w2.weight", "time_mix_v0.weight",
        "time_mix_v1.weight", "time_mix_v2.weight", "time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight",
        "time_mix_g1.weight", "time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
        "time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd", "sam.neck.", "sam.net_",
        ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook", "mm.a.code_embd",
    ];

    private static bool Allowed(PlannedTensor t)
    {
        // ggml_n_dims: trailing dimensions of size 1 do not count.
        int dims = 1;
        for (int i = t.Dimensions.Length - 1; i > 0; i--)
            if (t.Dimensions[i] > 1) { dims = i + 1; break; }
        if (dims < 2 || !t.Name.EndsWith("weight", StringComparison.Ordinal)) return false;
        if (t.Name is "position_embd.weight" or "token_types.weight") return false;
        return !s_keptSubstrings.Any(t.Name.Contains);
    }

    private static bool UseMoreBits(int layer, int layers) => layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;

    private GgmlType Choose(PlannedTensor t, bool tied, int attentionVCount, int layerCount, int expertCount, string architecture, Counters counters)
    {
        var target = Scheme.DefaultType;
        var category = CategoryOf(t.Name);
        bool q4KM = Scheme == QuantizationScheme.Q4_K_M;
        long columns = t.Dimensions[0];
        if (category == TensorCategory.Output || (tied && category == TensorCategory.TokenEmbedding))
        {
            if (architecture == "falcon" || columns % GgmlTypeInfo.BlockSize(target) != 0) target = GgmlType.Q8_0;
            else if (target != GgmlType.Q8_0) target = GgmlType.Q6_K;
        }
        else if (category == TensorCategory.TokenEmbedding)
        {
            // The default type.
        }
        else if (IsAttentionVLike(category))
        {
            if (q4KM && UseMoreBits(counters.AttentionV, attentionVCount)) target = GgmlType.Q6_K;
            if (expertCount == 8) target = GgmlType.Q8_0;
            counters.AttentionV++;
        }
        else if (category == TensorCategory.AttentionK)
        {
            if (expertCount == 8) target = GgmlType.Q8_0;
        }
        else if (category == TensorCategory.FfnDown)
        {
            int layer = expertCount > 1 ? LayerOf(t.Name, layerCount) : counters.FfnDown;
            if (q4KM)
            {
                if (architecture == "falcon")
                    throw Unsupported(t, "Falcon's Q4_K_M mixture (Q5_K for some ffn_down)");
                if (UseMoreBits(layer, layerCount)) target = GgmlType.Q6_K;
            }
            counters.FfnDown++;
        }
        else if (category == TensorCategory.AttentionOutput && q4KM && expertCount == 8 && architecture != "falcon")
        {
            throw Unsupported(t, "Q5_K, which llama-quantize gives the attention output of 8-expert models");
        }

        if (columns % GgmlTypeInfo.BlockSize(target) != 0)
        {
            target = target switch
            {
                GgmlType.Q6_K => GgmlType.Q8_0,
                GgmlType.Q4_K => GgmlType.Q5_0,
                _ => target,
            };
            if (columns % GgmlTypeInfo.BlockSize(target) != 0) target = GgmlType.F16;
        }
        if (target != t.SourceType && t.SourceType is not (GgmlType.F32 or GgmlType.F16 or GgmlType.BF16))
            throw new NotSupportedException($"tensor '{t.Name}' is already {t.SourceType}; only f32, f16 and bf16 weights are quantized (requantizing loses accuracy)");
        return target;
    }

    private static int LayerOf(string name, int layerCount)
    {
        if (name.StartsWith("blk.", StringComparison.Ordinal))
        {
            int end = name.IndexOf('.', 4);
            if (end > 4 && int.TryParse(name.AsSpan(4, end - 4), out int layer) && layer >= 0 && layer < layerCount) return layer;
        }
        throw new InvalidDataException($"cannot tell the layer of tensor '{name}' (expected blk.N. with N below {layerCount})");
    }

    private NotSupportedException Unsupported(PlannedTensor t, string what) =>
        new($"tensor '{t.Name}': {Scheme.Name} would need {what}; Inkwell quantizes to {string.Join(", ", ReferenceQuantizer.SupportedTypes)} only");
}
