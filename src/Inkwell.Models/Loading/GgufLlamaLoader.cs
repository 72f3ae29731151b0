using Inkwell.Models.Gguf;
using Inkwell.Models.Llama;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Loading;

/// <summary>Builds a Llama-family model (architectures `llama` and `qwen2`) from a GGUF file's metadata and tensors.</summary>
public static class GgufLlamaLoader
{
    public static readonly IReadOnlyList<string> SupportedArchitectures = ["llama", "qwen2"];

    public static LlamaConfig ReadConfig(GgufFile f)
    {
        string arch = f.Get<string>("general.architecture");
        if (!SupportedArchitectures.Contains(arch))
            throw GgufFile.Bad(f.Path, $"unsupported architecture '{arch}' (supported: {string.Join(", ", SupportedArchitectures)})");
        int dim = f.Get<int>($"{arch}.embedding_length");
        int heads = f.Get<int>($"{arch}.attention.head_count");
        var embd = f.Tensor("token_embd.weight");
        int vocab = f.TryGet<string[]>("tokenizer.ggml.tokens", out var tokens) ? tokens.Length : (int)embd.Dimensions[^1];
        string? scalingType = f.GetOrDefault<string?>($"{arch}.rope.scaling.type", null);
        float scale = 1f;
        if (scalingType == "linear") scale = f.GetOrDefault($"{arch}.rope.scaling.factor", 1f);
        else if (scalingType is not null and not "none")
            throw GgufFile.Bad(f.Path, $"unsupported RoPE scaling type '{scalingType}'");
        return new LlamaConfig
        {
            Architecture = arch,
            Dim = dim,
            HiddenDim = f.Get<int>($"{arch}.feed_forward_length"),
            LayerCount = f.Get<int>($"{arch}.block_count"),
            HeadCount = heads,
            KvHeadCount = f.GetOrDefault($"{arch}.attention.head_count_kv", heads),
            VocabSize = vocab,
            ContextLength = f.GetOrDefault($"{arch}.context_length", 2048),
            HeadDim = f.GetOrDefault($"{arch}.attention.key_length", 0),
            RopeDim = f.GetOrDefault($"{arch}.rope.dimension_count", 0),
            RmsNormEps = f.GetOrDefault($"{arch}.attention.layer_norm_rms_epsilon", 1e-5f),
            RopeTheta = f.GetOrDefault($"{arch}.rope.freq_base", 10000f),
            RopeLinearScale = scale,
            RopeStyle = arch == "qwen2" ? RopeStyle.HalfSplit : RopeStyle.Interleaved,
            HasQkvBias = arch == "qwen2",
        }.Validated(f.Path);
    }

    /// <summary>Views of the file's tensors (no copy for matrices); the file stays open as the weights' owner.</summary>
    public static LlamaWeights ReadWeights(GgufFile f, LlamaConfig c)
    {
        var layers = new LlamaLayerWeights[c.LayerCount];
        for (int i = 0; i < c.LayerCount; i++)
        {
            string p = $"blk.{i}.";
            layers[i] = new LlamaLayerWeights
            {
                AttentionNorm = Vector(f, p + "attn_norm.weight", c.Dim),
                Wq = f.Matrix(p + "attn_q.weight", c.QDim, c.Dim),
                Wk = f.Matrix(p + "attn_k.weight", c.KvDim, c.Dim),
                Wv = f.Matrix(p + "attn_v.weight", c.KvDim, c.Dim),
                Wo = f.Matrix(p + "attn_output.weight", c.Dim, c.QDim),
                Bq = c.HasQkvBias ? Vector(f, p + "attn_q.bias", c.QDim) : null,
                Bk = c.HasQkvBias ? Vector(f, p + "attn_k.bias", c.KvDim) : null,
                Bv = c.HasQkvBias ? Vector(f, p + "attn_v.bias", c.KvDim) : null,
                FfnNorm = Vector(f, p + "ffn_norm.weight", c.Dim),
                WGate = f.Matrix(p + "ffn_gate.weight", c.HiddenDim, c.Dim),
                WUp = f.Matrix(p + "ffn_up.weight", c.HiddenDim, c.Dim),
                WDown = f.Matrix(p + "ffn_down.weight", c.Dim, c.HiddenDim),
            };
        }
        var embedding = f.Matrix("token_embd.weight", c.VocabSize, c.Dim);
        return new LlamaWeights
        {
            TokenEmbedding = embedding,
            Layers = layers,
            OutputNorm = Vector(f, "output_norm.weight", c.Dim),
            Output = f.HasTensor("output.weight") ? f.Matrix("output.weight", c.VocabSize, c.Dim) : embedding,
            Owner = f,
        };
    }

    private static float[] Vector(GgufFile f, string name, int length)
    {
        var m = f.Matrix(name, 1, length);
        var v = new float[length];
        MatMul.DequantizeRow(m, 0, v);
        return v;
    }
}
