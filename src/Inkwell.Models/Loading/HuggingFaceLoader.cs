using System.Text.Json;
using Inkwell.Models.Llama;
using Inkwell.Models.SafeTensors;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Loading;

/// <summary>
/// A Hugging Face model directory: config.json, model.safetensors or sharded model-*.safetensors with
/// model.safetensors.index.json, and tokenizer.json. Model types llama, mistral and qwen2.
/// </summary>
public static class HuggingFaceLoader
{
    public static readonly IReadOnlyList<string> SupportedModelTypes = ["llama", "mistral", "qwen2"];

    public static bool IsModelDirectory(string path) => Directory.Exists(path) && File.Exists(System.IO.Path.Combine(path, "config.json"));

    public static LlamaConfig ReadConfig(string directory)
    {
        string path = System.IO.Path.Combine(directory, "config.json");
        JsonElement root;
        try { root = JsonDocument.Parse(File.ReadAllText(path)).RootElement; }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message})"); }
        string type = Str(root, "model_type") ?? "";
        if (!SupportedModelTypes.Contains(type))
            throw new InvalidDataException($"{path}: unsupported model_type '{type}' (supported: {string.Join(", ", SupportedModelTypes)})");
        int Int(string key, int? fallback = null) =>
            root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetInt32()
            : fallback ?? throw new InvalidDataException($"{path}: '{key}' is missing");
        float Float(string key, float fallback) =>
            root.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetSingle() : fallback;
        int heads = Int("num_attention_heads");
        float linear = 1f;
        if (root.TryGetProperty("rope_scaling", out var rs) && rs.ValueKind == JsonValueKind.Object)
        {
            string kind = Str(rs, "rope_type") ?? Str(rs, "type") ?? "";
            if (kind == "linear") linear = rs.GetProperty("factor").GetSingle();
            else if (kind != "default") throw new InvalidDataException($"{path}: unsupported rope_scaling type '{kind}'");
        }
        return new LlamaConfig
        {
            Architecture = type,
            Dim = Int("hidden_size"),
            HiddenDim = Int("intermediate_size"),
            LayerCount = Int("num_hidden_layers"),
            HeadCount = heads,
            KvHeadCount = Int("num_key_value_heads", heads),
            VocabSize = Int("vocab_size"),
            ContextLength = Int("max_position_embeddings", 2048),
            HeadDim = root.TryGetProperty("head_dim", out var hd) && hd.ValueKind == JsonValueKind.Number ? hd.GetInt32() : 0,
            RmsNormEps = Float("rms_norm_eps", 1e-6f),
            RopeTheta = Float("rope_theta", 10000f),
            RopeLinearScale = linear,
            RopeStyle = RopeStyle.HalfSplit,
            HasQkvBias = type == "qwen2",
        }.Validated(path);
    }

    public static bool TiedEmbeddings(string directory)
    {
        var root = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(directory, "config.json"))).RootElement;
        return root.TryGetProperty("tie_word_embeddings", out var t) && t.ValueKind == JsonValueKind.True;
    }

    public static LlamaWeights ReadWeights(string directory, LlamaConfig c)
    {
        var files = OpenShards(directory);
        var owner = new CompositeDisposable(files);
        try
        {
            var byName = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var f in files)
                foreach (var name in f.Tensors.Keys) byName[name] = f;
            WeightMatrix M(string name, int rows, int cols) =>
                byName.TryGetValue(name, out var f) ? f.Matrix(name, rows, cols)
                : throw new InvalidDataException($"{directory}: tensor '{name}' is missing from the safetensors files");
            float[] V(string name, int n)
            {
                var m = M(name, 1, n);
                var v = new float[n];
                MatMul.DequantizeRow(m, 0, v);
                return v;
            }

            var layers = new LlamaLayerWeights[c.LayerCount];
            for (int i = 0; i < c.LayerCount; i++)
            {
                string p = $"model.layers.{i}.";
                layers[i] = new LlamaLayerWeights
                {
                    AttentionNorm = V(p + "input_layernorm.weight", c.Dim),
                    Wq = M(p + "self_attn.q_proj.weight", c.QDim, c.Dim),
                    Wk = M(p + "self_attn.k_proj.weight", c.KvDim, c.Dim),
                    Wv = M(p + "self_attn.v_proj.weight", c.KvDim, c.Dim),
                    Wo = M(p + "self_attn.o_proj.weight", c.Dim, c.QDim),
                    Bq = c.HasQkvBias ? V(p + "self_attn.q_proj.bias", c.QDim) : null,
                    Bk = c.HasQkvBias ? V(p + "self_attn.k_proj.bias", c.KvDim) : null,
                    Bv = c.HasQkvBias ? V(p + "self_attn.v_proj.bias", c.KvDim) : null,
                    FfnNorm = V(p + "post_attention_layernorm.weight", c.Dim),
                    WGate = M(p + "mlp.gate_proj.weight", c.HiddenDim, c.Dim),
                    WUp = M(p + "mlp.up_proj.weight", c.HiddenDim, c.Dim),
                    WDown = M(p + "mlp.down_proj.weight", c.Dim, c.HiddenDim),
                };
            }
            var embedding = M("model.embed_tokens.weight", c.VocabSize, c.Dim);
            bool tied = TiedEmbeddings(directory) || !byName.ContainsKey("lm_head.weight");
            return new LlamaWeights
            {
                TokenEmbedding = embedding,
                Layers = layers,
                OutputNorm = V("model.norm.weight", c.Dim),
                Output = tied ? embedding : M("lm_head.weight", c.VocabSize, c.Dim),
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

    private static string? Str(JsonElement e, string key) =>
        e.TryGetProperty(key, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private sealed class CompositeDisposable(IEnumerable<IDisposable> items) : IDisposable
    {
        public void Dispose()
        {
            foreach (var i in items) i.Dispose();
        }
    }
}
