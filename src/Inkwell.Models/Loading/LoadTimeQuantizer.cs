using Inkwell.Models.Gguf;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Loading;

/// <summary>
/// `--quantize`: re-encodes float weight tensors as a loader reads them, each to the encoding llama-quantize's rules
/// give it (<see cref="TensorTypePlan"/> over the file's whole tensor list), so `serve --quantize q4_0` runs the
/// weights `llama-quantize ... q4_0` would have written. It works where llama-quantize does, on whole tensors: a
/// loader passes every matrix it reads from its file through <see cref="Apply"/> before slicing it (a fused QKV, the
/// experts of a 3-D tensor), so slices are views of a tensor planned and encoded as one. The rules go by llama.cpp
/// tensor names, so Hugging Face and llama2.c names are translated first (<see cref="LlamaCppName"/>).
/// </summary>
public sealed class LoadTimeQuantizer
{
    private LoadTimeQuantizer(TensorTypePlan plan) => Plan = plan;

    /// <summary>Each tensor's encoding, by llama.cpp name.</summary>
    public TensorTypePlan Plan { get; }

    /// <summary>A GGUF file's tensors, which carry llama.cpp's names and ggml's dimensions already.</summary>
    public static LoadTimeQuantizer ForGguf(GgufFile file, ModelConfig config, QuantizationScheme scheme)
    {
        ArgumentNullException.ThrowIfNull(file);
        return new(new TensorTypePlan(scheme, file.Tensors.Select(t => new PlannedTensor(t.Name, t.Dimensions, t.Type)),
            config.LayerCount, config.Experts?.Count ?? 0, config.Architecture));
    }

    /// <summary>
    /// A Hugging Face or llama2.c checkpoint's tensors: <paramref name="tensors"/> are all of them, by their own names,
    /// shapes as stored (row-major, the row last) and encodings. Tensors that share a llama.cpp name (experts stored
    /// one by one) are the slices of the 3-D tensor llama.cpp's converter makes of them, planned as that one tensor.
    /// </summary>
    public static LoadTimeQuantizer ForCheckpoint(IEnumerable<(string Name, long[] Shape, GgmlType Type)> tensors, ModelConfig config, QuantizationScheme scheme)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var planned = tensors.GroupBy(t => LlamaCppName(t.Name), StringComparer.Ordinal).Select(group =>
        {
            var first = group.First();
            long[] dimensions = first.Shape.Reverse().ToArray(); // ggml lists ne[0], the row, first
            return new PlannedTensor(group.Key, group.Count() > 1 ? [.. dimensions, group.Count()] : dimensions, first.Type);
        });
        return new(new TensorTypePlan(scheme, planned, config.LayerCount, config.Experts?.Count ?? 0, config.Architecture));
    }

    /// <summary>
    /// The whole tensor <paramref name="matrix"/>, named <paramref name="llamaCppName"/> in the plan, in its planned
    /// encoding (the same object when that is its own). The float pages of a mapped file are handed back afterwards:
    /// only the quantized copy is read from then on.
    /// </summary>
    public unsafe WeightMatrix Apply(string llamaCppName, WeightMatrix matrix)
    {
        ArgumentNullException.ThrowIfNull(matrix);
        var target = Plan.TargetOf(llamaCppName);
        if (target == matrix.Type) return matrix;
        var quantized = MatrixQuantizer.Quantize(matrix, target);
        if (matrix.Owner is IReleasableMapping mapping) mapping.ReleasePages(matrix.Data, matrix.TotalBytes);
        return quantized;
    }

    /// <summary>
    /// The llama.cpp name of a tensor from a Hugging Face or llama2.c checkpoint, as llama.cpp's converter names it
    /// (one-by-one experts all map to their 3-D tensor's name); GGUF names and names without a rule pass through.
    /// </summary>
    public static string LlamaCppName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        foreach (var (source, gguf) in s_wholeNames)
            if (name == source) return gguf;
        foreach (var prefix in s_layerPrefixes)
        {
            if (!name.StartsWith(prefix, StringComparison.Ordinal)) continue;
            int dot = name.IndexOf('.', prefix.Length);
            if (dot < 0 || !int.TryParse(name.AsSpan(prefix.Length, dot - prefix.Length), out int layer)) continue;
            string rest = WithoutExpertNumber(name[(dot + 1)..]);
            foreach (var (source, gguf) in s_layerNames)
                if (rest == source) return $"blk.{layer}.{gguf}";
        }
        return name;
    }

    /// <summary>"mlp.experts.3.gate_proj.weight" to "mlp.experts.gate_proj.weight".</summary>
    private static string WithoutExpertNumber(string rest)
    {
        const string Experts = "experts.";
        int at = rest.IndexOf(Experts, StringComparison.Ordinal);
        if (at < 0) return rest;
        int digits = at + Experts.Length, end = digits;
        while (end < rest.Length && char.IsAsciiDigit(rest[end])) end++;
        return end > digits && end < rest.Length && rest[end] == '.' ? rest[..digits] + rest[(end + 1)..] : rest;
    }

    private static readonly (string Source, string Gguf)[] s_wholeNames =
    [
        ("model.embed_tokens.weight", "token_embd.weight"), ("lm_head.weight", "output.weight"), ("model.norm.weight", "output_norm.weight"),
        ("token_embedding", "token_embd.weight"), ("wcls", "output.weight"),
    ];

    private static readonly string[] s_layerPrefixes = ["model.layers.", "layers."];

    private static readonly (string Source, string Gguf)[] s_layerNames =
    [
        // Dense blocks; Phi-3's fused projections stay fused in llama.cpp (attn_qkv, and ffn_up holding gate then up).
        ("self_attn.q_proj.weight", "attn_q.weight"), ("self_attn.k_proj.weight", "attn_k.weight"),
        ("self_attn.v_proj.weight", "attn_v.weight"), ("self_attn.o_proj.weight", "attn_output.weight"),
        ("self_attn.qkv_proj.weight", "attn_qkv.weight"),
        ("mlp.gate_proj.weight", "ffn_gate.weight"), ("mlp.up_proj.weight", "ffn_up.weight"), ("mlp.down_proj.weight", "ffn_down.weight"),
        ("mlp.gate_up_proj.weight", "ffn_up.weight"),
        // Experts: Qwen-MoE, Mixtral, and Granite MoE's 3-D tensors. llama.cpp splits Granite's input_linear into
        // ffn_gate_exps and ffn_up_exps, which its rules treat alike, so the fused tensor is planned as one of them.
        ("mlp.gate.weight", "ffn_gate_inp.weight"), ("block_sparse_moe.gate.weight", "ffn_gate_inp.weight"),
        ("block_sparse_moe.router.layer.weight", "ffn_gate_inp.weight"),
        ("mlp.experts.gate_proj.weight", "ffn_gate_exps.weight"), ("mlp.experts.up_proj.weight", "ffn_up_exps.weight"),
        ("mlp.experts.down_proj.weight", "ffn_down_exps.weight"),
        ("block_sparse_moe.experts.w1.weight", "ffn_gate_exps.weight"), ("block_sparse_moe.experts.w3.weight", "ffn_up_exps.weight"),
        ("block_sparse_moe.experts.w2.weight", "ffn_down_exps.weight"),
        ("block_sparse_moe.input_linear.weight", "ffn_up_exps.weight"), ("block_sparse_moe.output_linear.weight", "ffn_down_exps.weight"),
        ("mlp.shared_expert.gate_proj.weight", "ffn_gate_shexp.weight"), ("mlp.shared_expert.up_proj.weight", "ffn_up_shexp.weight"),
        ("mlp.shared_expert.down_proj.weight", "ffn_down_shexp.weight"), ("mlp.shared_expert_gate.weight", "ffn_gate_inp_shexp.weight"),
        ("shared_mlp.input_linear.weight", "ffn_up_shexp.weight"), ("shared_mlp.output_linear.weight", "ffn_down_shexp.weight"),
        // llama2.c checkpoints.
        ("wq", "attn_q.weight"), ("wk", "attn_k.weight"), ("wv", "attn_v.weight"), ("wo", "attn_output.weight"),
        ("w1", "ffn_gate.weight"), ("w3", "ffn_up.weight"), ("w2", "ffn_down.weight"),
    ];
}
