using Inkwell.Models.Decoder;
using Inkwell.Models.Families;
using Inkwell.Models.Gguf;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Loading;

/// <summary>
/// Builds a decoder model of any supported family (<see cref="DecoderFamilies"/>) from a GGUF file: the shape every
/// family shares here, the family's own metadata through its <see cref="DecoderFamily.FromGguf"/>, and the tensors
/// by llama.cpp's names. Optional tensors (biases, per-tensor scales, q/k and post norms, RoPE factors, a fused
/// QKV or gate/up) are used when the file has them, as llama.cpp does.
/// </summary>
public static class GgufDecoderLoader
{
    public static ModelConfig ReadConfig(GgufFile f)
    {
        string arch = f.Get<string>("general.architecture");
        var family = DecoderFamilies.ByArchitecture(arch)
            ?? throw GgufFile.Bad(f.Path, $"unsupported architecture '{arch}' (supported: {string.Join(", ", DecoderFamilies.All.Select(a => a.Architecture))})");
        var m = new GgufMetadata(f, arch);
        int dim = f.Get<int>($"{arch}.embedding_length");
        int heads = f.Get<int>($"{arch}.attention.head_count");
        var embd = f.Tensor("token_embd.weight");
        int vocab = f.TryGet<string[]>("tokenizer.ggml.tokens", out var tokens) ? tokens.Length : (int)embd.Dimensions[^1];
        int context = m.Int("context_length", 2048);

        // RoPE scaling as llama.cpp reads it: the type defaults to linear, and a factor of 0 means none.
        string scalingType = f.GetOrDefault($"{arch}.rope.scaling.type", "linear");
        float factor = m.Float("rope.scaling.factor", 0f);
        if (factor == 0f) factor = m.Float("rope.scale_linear", 0f);
        if (factor == 0f) factor = 1f;
        int originalContext = m.Int("rope.scaling.original_context_length", context);
        YarnScaling? yarn = null;
        float linear = 1f;
        switch (scalingType)
        {
            case "none":
                break;
            case "linear":
                linear = factor;
                break;
            case "yarn":
                // YaRN's interpolation is folded into the frequencies (Decoder/Rope), not applied to positions.
                yarn = new YarnScaling(factor, originalContext, m.Float("rope.scaling.yarn_beta_fast", 32f), m.Float("rope.scaling.yarn_beta_slow", 1f));
                break;
            case "longrope":
                break;  // factors come from rope_factors_long/short below
            default:
                throw GgufFile.Bad(f.Path, $"unsupported RoPE scaling type '{scalingType}'");
        }

        var c = new ModelConfig
        {
            Architecture = arch,
            Dim = dim,
            HiddenDim = f.Get<int>($"{arch}.feed_forward_length"),
            LayerCount = f.Get<int>($"{arch}.block_count"),
            HeadCount = heads,
            KvHeadCount = m.Int("attention.head_count_kv", heads),
            VocabSize = vocab,
            ContextLength = context,
            HeadDim = m.Int("attention.key_length", 0),
            RopeDim = m.Int("rope.dimension_count", 0),
            RmsNormEps = m.Float("attention.layer_norm_rms_epsilon", 1e-5f),
            RopeTheta = m.Float("rope.freq_base", 10000f),
            RopeLinearScale = linear,
            RopeAttentionFactor = m.Float("rope.scaling.attn_factor", 1f),
            Yarn = yarn,
            RopeStyle = family.GgufRopeStyle,
        }.Validated(f.Path);

        // Frequency factors: Llama 3.1+ (rope_freqs), or LongRoPE's pair (long beyond the original context).
        var factors = m.Vector("rope_freqs.weight", c.RopeDim / 2);
        if (factors is null && f.HasTensor("rope_factors_long.weight"))
            factors = m.Vector(c.ContextLength > originalContext ? "rope_factors_long.weight" : "rope_factors_short.weight", c.RopeDim / 2);
        c = c with { RopeFrequencyFactors = factors };

        return family.FromGguf(m, c).Validated(f.Path);
    }

    /// <summary>
    /// Views of the file's tensors (no copy for matrices); the file stays open as the weights' owner. With
    /// <paramref name="quantize"/> (--quantize), each matrix tensor is re-encoded whole before it is sliced.
    /// </summary>
    public static DecoderWeights ReadWeights(GgufFile f, ModelConfig c, QuantizationScheme? quantize = null)
    {
        var family = DecoderFamilies.ByArchitecture(c.Architecture)!;
        var quantizer = quantize is null ? null : LoadTimeQuantizer.ForGguf(f, c, quantize);
        // Every matrix comes through here, so --quantize sees whole tensors by their llama.cpp names.
        WeightMatrix M(string name, int rows, int cols)
        {
            var m = f.Matrix(name, rows, cols);
            return quantizer is null ? m : quantizer.Apply(name, m);
        }
        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim, hidden = c.HiddenDim;
        float[]? Optional(string name, int length) => f.HasTensor(name) ? Vector(f, name, length) : null;
        float Scale(string name) => f.HasTensor(name) ? Vector(f, name, 1)[0] : 1f;
        Linear Projection(string p, string name, WeightMatrix weight, float[]? bias, bool feedForward) =>
            new(weight, bias, !feedForward || family.FeedForwardScales ? Scale($"{p}{name}.scale") : 1f, biasFirst: feedForward);
        var layers = new DecoderLayerWeights[c.LayerCount];
        for (int i = 0; i < c.LayerCount; i++)
        {
            string p = $"blk.{i}.";
            Linear wq, wk, wv;
            if (f.HasTensor(p + "attn_qkv.weight"))
            {
                // Fused QKV (Phi-3): row slices of one matrix, so the forward pass sees three projections.
                var qkv = M(p + "attn_qkv.weight", qDim + 2 * kvDim, dim);
                var bias = Optional(p + "attn_qkv.bias", qDim + 2 * kvDim);
                float scale = Scale(p + "attn_qkv.scale");
                wq = new Linear(qkv.RowSlice(0, qDim), bias?[..qDim] ?? Optional(p + "attn_q.bias", qDim), scale);
                wk = new Linear(qkv.RowSlice(qDim, kvDim), bias?[qDim..(qDim + kvDim)] ?? Optional(p + "attn_k.bias", kvDim), scale);
                wv = new Linear(qkv.RowSlice(qDim + kvDim, kvDim), bias?[(qDim + kvDim)..] ?? Optional(p + "attn_v.bias", kvDim), scale);
            }
            else
            {
                wq = Projection(p, "attn_q", M(p + "attn_q.weight", qDim, dim), Optional(p + "attn_q.bias", qDim), false);
                wk = Projection(p, "attn_k", M(p + "attn_k.weight", kvDim, dim), Optional(p + "attn_k.bias", kvDim), false);
                wv = Projection(p, "attn_v", M(p + "attn_v.weight", kvDim, dim), Optional(p + "attn_v.bias", kvDim), false);
            }

            IFeedForward feedForward;
            if (c.Experts is not null) feedForward = GgufExperts.Read(f, M, p, c, family);
            else
            {
                Linear gate, up;
                if (f.HasTensor(p + "ffn_gate.weight"))
                {
                    gate = Projection(p, "ffn_gate", M(p + "ffn_gate.weight", hidden, dim), Optional(p + "ffn_gate.bias", hidden), true);
                    up = Projection(p, "ffn_up", M(p + "ffn_up.weight", hidden, dim), Optional(p + "ffn_up.bias", hidden), true);
                }
                else
                {
                    // Fused gate and up (Phi-3): ffn_up holds the gate's rows, then the up projection's.
                    var fused = M(p + "ffn_up.weight", 2 * hidden, dim);
                    gate = new Linear(fused.RowSlice(0, hidden));
                    up = new Linear(fused.RowSlice(hidden, hidden));
                }
                var down = Projection(p, "ffn_down", M(p + "ffn_down.weight", dim, hidden), Optional(p + "ffn_down.bias", dim), true);
                feedForward = new GatedFeedForward(gate, up, down, c.Activation);
            }

            int qNormLength = c.QkNorm == QkNorm.AcrossHeads ? qDim : c.HeadDim;
            int kNormLength = c.QkNorm == QkNorm.AcrossHeads ? kvDim : c.HeadDim;
            bool pre = c.Norms != NormPlacement.Post, post = c.Norms != NormPlacement.Pre;
            layers[i] = new DecoderLayerWeights
            {
                AttentionNorm = pre ? Vector(f, p + "attn_norm.weight", dim) : null,
                Wq = wq,
                Wk = wk,
                Wv = wv,
                QNorm = c.QkNorm == QkNorm.None ? null : Vector(f, p + "attn_q_norm.weight", qNormLength),
                KNorm = c.QkNorm == QkNorm.None ? null : Vector(f, p + "attn_k_norm.weight", kNormLength),
                Wo = Projection(p, "attn_output", M(p + "attn_output.weight", dim, qDim), Optional(p + "attn_output.bias", dim), false),
                PostAttentionNorm = post ? Vector(f, p + "post_attention_norm.weight", dim) : null,
                FfnNorm = pre ? Vector(f, p + "ffn_norm.weight", dim) : null,
                FeedForward = feedForward,
                PostFfnNorm = post ? Vector(f, p + "post_ffw_norm.weight", dim) : null,
            };
        }
        var embedding = M("token_embd.weight", c.VocabSize, dim);
        return new DecoderWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            OutputNorm = Vector(f, "output_norm.weight", dim),
            Output = new Linear(f.HasTensor("output.weight") ? M("output.weight", c.VocabSize, dim) : embedding,
                Optional("output.bias", c.VocabSize)),
            Owner = f,
        };
    }

    /// <summary>A small tensor (norm weights, biases, scales) dequantized to floats.</summary>
    internal static float[] Vector(GgufFile f, string name, int length)
    {
        var m = f.Matrix(name, 1, length);
        var v = new float[length];
        MatMul.DequantizeRow(m, 0, v);
        return v;
    }
}
