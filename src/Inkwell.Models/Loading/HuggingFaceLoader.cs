using System.Text.Json;
using Inkwell.Models.Decoder;
using Inkwell.Models.Families;
using Inkwell.Models.SafeTensors;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Loading;

/// <summary>
/// A Hugging Face model directory: config.json, model.safetensors or sharded model-*.safetensors with
/// model.safetensors.index.json, and tokenizer.json. Any family in <see cref="DecoderFamilies"/> with a Hugging Face
/// form; the shared shape and RoPE scaling are read here, the family's own keys by the family.
/// </summary>
public static class HuggingFaceLoader
{
    public static IReadOnlyList<string> SupportedModelTypes => DecoderFamilies.HuggingFaceTypes.ToArray();

    public static bool IsModelDirectory(string path) => Directory.Exists(path) && File.Exists(System.IO.Path.Combine(path, "config.json"));

    public static ModelConfig ReadConfig(string directory)
    {
        string path = System.IO.Path.Combine(directory, "config.json");
        JsonElement root;
        try { root = JsonDocument.Parse(File.ReadAllText(path)).RootElement; }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        var j = new HuggingFaceConfig(root, path);
        string type = j.String("model_type") ?? "";
        var family = DecoderFamilies.ByHuggingFaceType(type)
            ?? throw j.Bad($"unsupported model_type '{type}' (supported: {string.Join(", ", SupportedModelTypes)})");
        int heads = j.Int("num_attention_heads");
        var c = new ModelConfig
        {
            Architecture = family.Architecture,
            Dim = j.Int("hidden_size"),
            HiddenDim = j.Int("intermediate_size"),
            LayerCount = j.Int("num_hidden_layers"),
            HeadCount = heads,
            KvHeadCount = j.Int("num_key_value_heads", heads),
            VocabSize = j.Int("vocab_size"),
            ContextLength = j.Int("max_position_embeddings", 2048),
            HeadDim = j.Int("head_dim", 0),
            RmsNormEps = j.Float("rms_norm_eps", 1e-6f),
            RopeTheta = j.Float("rope_theta", 10000f),
            RopeStyle = RopeStyle.HalfSplit,
        }.Validated(path);
        c = WithRopeScaling(j, c);
        return family.FromHuggingFace!(j, c).Validated(path);
    }

    /// <summary>rope_scaling: linear, llama3 (as frequency factors), yarn, longrope (Phi-3); others are refused.</summary>
    private static ModelConfig WithRopeScaling(HuggingFaceConfig j, ModelConfig c)
    {
        if (j.Object("rope_scaling") is not { } rs) return c;
        var s = new HuggingFaceConfig(rs, j.Path);
        string kind = s.String("rope_type") ?? s.String("type") ?? "default";
        float factor = s.Float("factor", 1f);
        int original = s.Int("original_max_position_embeddings", j.Int("original_max_position_embeddings", c.ContextLength));
        switch (kind)
        {
            case "default":
                return c;
            case "linear":
                return c with { RopeLinearScale = factor };
            case "llama3":
            {
                // transformers' _compute_llama3_parameters, as divisors of each pair's frequency.
                float low = s.Float("low_freq_factor", 1f), high = s.Float("high_freq_factor", 4f);
                float lowWavelength = original / low, highWavelength = original / high;
                var factors = new float[c.RopeDim / 2];
                for (int i = 0; i < factors.Length; i++)
                {
                    float wavelength = 2 * MathF.PI * MathF.Pow(c.RopeTheta, 2 * i / (float)c.RopeDim);
                    if (wavelength < highWavelength) factors[i] = 1f;
                    else if (wavelength > lowWavelength) factors[i] = factor;
                    else
                    {
                        float smooth = (original / wavelength - low) / (high - low);
                        factors[i] = 1f / ((1 - smooth) / factor + smooth);
                    }
                }
                return c with { RopeFrequencyFactors = factors };
            }
            case "yarn":
            {
                float defaultMagnitude = 0.1f * MathF.Log(factor) + 1f;
                return c with
                {
                    Yarn = new YarnScaling(factor, original, s.Float("beta_fast", 32f), s.Float("beta_slow", 1f)),
                    RopeAttentionFactor = s.Has("attention_factor") ? s.Float("attention_factor", 1f) / defaultMagnitude : 1f,
                };
            }
            case "longrope":
            {
                bool isLong = c.ContextLength > original;
                var factors = Floats(s, isLong ? "long_factor" : "short_factor", c.RopeDim / 2);
                float scale = c.ContextLength / (float)original;
                float magnitude = s.Has("attention_factor") ? s.Float("attention_factor", 1f)
                    : scale <= 1f ? 1f : MathF.Sqrt(1 + MathF.Log(scale) / MathF.Log(original));
                return c with { RopeFrequencyFactors = factors, RopeAttentionFactor = magnitude };
            }
            default:
                throw j.Bad($"unsupported rope_scaling type '{kind}'");
        }
    }

    private static float[] Floats(HuggingFaceConfig s, string key, int length)
    {
        if (!s.Root.TryGetProperty(key, out var a) || a.ValueKind != JsonValueKind.Array) throw s.Bad($"rope_scaling.{key} is missing");
        var v = a.EnumerateArray().Select(e => e.GetSingle()).ToArray();
        return v.Length == length ? v : throw s.Bad($"rope_scaling.{key} has {v.Length} values, expected {length}");
    }

    public static bool TiedEmbeddings(string directory)
    {
        var root = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(directory, "config.json"))).RootElement;
        return root.TryGetProperty("tie_word_embeddings", out var t) && t.ValueKind == JsonValueKind.True;
    }

    /// <summary>
    /// Views of the safetensors files' tensors. With <paramref name="quantize"/> (--quantize), each matrix tensor is
    /// re-encoded whole, planned under its llama.cpp name, before it is sliced.
    /// </summary>
    public static DecoderWeights ReadWeights(string directory, ModelConfig c, QuantizationScheme? quantize = null)
    {
        var family = DecoderFamilies.ByArchitecture(c.Architecture)!;
        var files = OpenShards(directory);
        var owner = new CompositeDisposable(files);
        try
        {
            var byName = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var f in files)
                foreach (var name in f.Tensors.Keys) byName[name] = f;
            bool Has(string name) => byName.ContainsKey(name);
            bool tied = TiedEmbeddings(directory) || !Has("lm_head.weight");
            // A tied checkpoint's lm_head (if written anyway) is not converted by llama.cpp, so not planned either.
            var quantizer = quantize is null ? null : LoadTimeQuantizer.ForCheckpoint(
                files.SelectMany(f => f.Tensors.Values)
                    .Where(t => !(tied && t.Name == "lm_head.weight") && SafeTensorsFile.GgmlTypeOf(t.DType) is not null)
                    .Select(t => (t.Name, t.Shape, SafeTensorsFile.GgmlTypeOf(t.DType)!.Value)),
                c, quantize);
            WeightMatrix Stored(string name, int rows, int cols) =>
                byName.TryGetValue(name, out var f) ? f.Matrix(name, rows, cols)
                : throw new InvalidDataException($"{directory}: tensor '{name}' is missing from the safetensors files");
            // Every matrix comes through here, so --quantize sees whole tensors.
            WeightMatrix M(string name, int rows, int cols)
            {
                var m = Stored(name, rows, cols);
                return quantizer is null ? m : quantizer.Apply(LoadTimeQuantizer.LlamaCppName(name), m);
            }
            float[] V(string name, int n)
            {
                var m = Stored(name, 1, n);
                var v = new float[n];
                MatMul.DequantizeRow(m, 0, v);
                return v;
            }
            float[]? Bias(string name, int n) => Has(name) ? V(name, n) : null;
            // Gemma's RMS norm multiplies by (1 + w); the forward pass multiplies by the weight as stored in GGUF.
            float[] Norm(string name, int n)
            {
                var v = V(name, n);
                if (family.HuggingFaceNormPlusOne) System.Numerics.Tensors.TensorPrimitives.Add(v, 1f, v);
                return v;
            }

            int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim, hidden = c.HiddenDim;
            var layers = new DecoderLayerWeights[c.LayerCount];
            for (int i = 0; i < c.LayerCount; i++)
            {
                string p = $"model.layers.{i}.";
                Linear wq, wk, wv;
                if (Has(p + "self_attn.qkv_proj.weight"))
                {
                    var qkv = M(p + "self_attn.qkv_proj.weight", qDim + 2 * kvDim, dim);
                    var bias = Bias(p + "self_attn.qkv_proj.bias", qDim + 2 * kvDim);
                    wq = new Linear(qkv.RowSlice(0, qDim), bias?[..qDim]);
                    wk = new Linear(qkv.RowSlice(qDim, kvDim), bias?[qDim..(qDim + kvDim)]);
                    wv = new Linear(qkv.RowSlice(qDim + kvDim, kvDim), bias?[(qDim + kvDim)..]);
                }
                else
                {
                    wq = new Linear(M(p + "self_attn.q_proj.weight", qDim, dim), Bias(p + "self_attn.q_proj.bias", qDim));
                    wk = new Linear(M(p + "self_attn.k_proj.weight", kvDim, dim), Bias(p + "self_attn.k_proj.bias", kvDim));
                    wv = new Linear(M(p + "self_attn.v_proj.weight", kvDim, dim), Bias(p + "self_attn.v_proj.bias", kvDim));
                }
                IFeedForward feedForward;
                if (c.Experts is not null) feedForward = HuggingFaceExperts.Read(Has, M, p, c);
                else
                {
                    Linear gate, up;
                    if (Has(p + "mlp.gate_up_proj.weight"))
                    {
                        var fused = M(p + "mlp.gate_up_proj.weight", 2 * hidden, dim);
                        var bias = Bias(p + "mlp.gate_up_proj.bias", 2 * hidden);
                        gate = new Linear(fused.RowSlice(0, hidden), bias?[..hidden]);
                        up = new Linear(fused.RowSlice(hidden, hidden), bias?[hidden..]);
                    }
                    else
                    {
                        gate = new Linear(M(p + "mlp.gate_proj.weight", hidden, dim), Bias(p + "mlp.gate_proj.bias", hidden));
                        up = new Linear(M(p + "mlp.up_proj.weight", hidden, dim), Bias(p + "mlp.up_proj.bias", hidden));
                    }
                    feedForward = new GatedFeedForward(gate, up, new Linear(M(p + "mlp.down_proj.weight", dim, hidden), Bias(p + "mlp.down_proj.bias", dim)), c.Activation);
                }
                int qNorm = c.QkNorm == QkNorm.AcrossHeads ? qDim : c.HeadDim, kNorm = c.QkNorm == QkNorm.AcrossHeads ? kvDim : c.HeadDim;
                // post_attention_layernorm is the pre-FFN norm in Llama-style blocks and the post-attention norm otherwise.
                layers[i] = new DecoderLayerWeights
                {
                    AttentionNorm = c.Norms == NormPlacement.Post ? null : Norm(p + "input_layernorm.weight", dim),
                    Wq = wq,
                    Wk = wk,
                    Wv = wv,
                    QNorm = c.QkNorm == QkNorm.None ? null : Norm(p + "self_attn.q_norm.weight", qNorm),
                    KNorm = c.QkNorm == QkNorm.None ? null : Norm(p + "self_attn.k_norm.weight", kNorm),
                    Wo = new Linear(M(p + "self_attn.o_proj.weight", dim, qDim), Bias(p + "self_attn.o_proj.bias", dim)),
                    PostAttentionNorm = c.Norms == NormPlacement.Pre ? null : Norm(p + "post_attention_layernorm.weight", dim),
                    FfnNorm = c.Norms switch
                    {
                        NormPlacement.Pre => Norm(p + "post_attention_layernorm.weight", dim),
                        NormPlacement.PreAndPost => Norm(p + "pre_feedforward_layernorm.weight", dim),
                        _ => null,
                    },
                    FeedForward = feedForward,
                    PostFfnNorm = c.Norms == NormPlacement.Pre ? null : Norm(p + "post_feedforward_layernorm.weight", dim),
                };
            }
            var embedding = M("model.embed_tokens.weight", c.VocabSize, dim);
            return new DecoderWeights
            {
                TokenEmbedding = embedding,
                Layers = layers,
                OutputNorm = Norm("model.norm.weight", dim),
                Output = new Linear(tied ? embedding : M("lm_head.weight", c.VocabSize, dim), Bias("lm_head.bias", c.VocabSize)),
                Owner = owner,
            };
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }

    private static List<SafeTensorsFile> OpenShards(string directory)
    {
        string index = System.IO.Path.Combine(directory, "model.safetensors.index.json");
        IEnumerable<string> names;
        if (File.Exists(index))
        {
            var map = JsonDocument.Parse(File.ReadAllText(index)).RootElement.GetProperty("weight_map");
            names = map.EnumerateObject().Select(p => p.Value.GetString()!).Distinct();
        }
        else
        {
            names = Directory.GetFiles(directory, "*.safetensors").Select(System.IO.Path.GetFileName).Order()!;
        }
        var files = new List<SafeTensorsFile>();
        foreach (var n in names) files.Add(SafeTensorsFile.Open(System.IO.Path.Combine(directory, n)));
        if (files.Count == 0) throw new InvalidDataException($"{directory}: no .safetensors files" + (PyTorch.PyTorchCheckpointConverter.NeedsConversion(directory) ? " (it has PyTorch .bin weights: run inkwell convert-to-safetensors on it)" : ""));
        return files;
    }

    private sealed class CompositeDisposable(IEnumerable<IDisposable> items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var i in items) i.Dispose();
        }
    }
}
