using System.Text.Json;
using Inkwell.Models.Decoder;
using Inkwell.Models.Gguf;
using Inkwell.Models.Loading;
using Inkwell.Models.Tests.Families;
using Inkwell.Models.Tokenizers;
using Inkwell.Runtime.Quantization;
using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Models.Tests.Loading;

/// <summary>
/// The 2-of-8 expert fixtures (Families/TopKMoe) rewritten as Hugging Face checkpoints in each family's own layout
/// (Qwen3-MoE mlp.experts.E.*_proj, Qwen2-MoE with its gated mlp.shared_expert, Mixtral block_sparse_moe.experts.E.w1/w2/w3, Granite MoE's 3-D fused
/// input_linear / output_linear and shared_mlp; Q/K rows un-permuted where GGUF interleaves them) must give the
/// logits llama.cpp computed for the GGUF.
/// </summary>
public sealed class HuggingFaceExpertsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-hf-moe-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("qwen3moe-top2of8", "qwen3_moe")]
    [InlineData("mixtral-top2of8", "mixtral")]
    [InlineData("granite-top2of8", "granitemoeshared")]
    [InlineData("qwen2moe-top2of8", "qwen2_moe")]
    public void Hugging_Face_layouts_match_llama_cpp(string fixture, string modelType)
    {
        string path = RepoPaths.InRoot("tests", "Inkwell.Models.Tests", "Families", "TopKMoe", fixture);
        WriteHuggingFaceCopy(path + ".gguf", modelType, _dir);
        var config = HuggingFaceLoader.ReadConfig(_dir);
        using var vocabulary = GgufFile.Open(path + ".gguf");
        var loaded = new LoadedModel
        {
            Name = fixture, Path = _dir, Format = "huggingface", Config = config,
            Weights = HuggingFaceLoader.ReadWeights(_dir, config), Tokenizer = Tokenizer.FromGguf(vocabulary),
        };
        var (nmse, greedy, expectedGreedy) = FamilyLogitsTests.Compare(path + ".logits.json", loaded);
        output.WriteLine($"{fixture} as {modelType}: NMSE {nmse:E2}");
        Assert.True(nmse <= 1e-5, $"{fixture} as {modelType}: NMSE {nmse:E3} exceeds 1e-5");
        Assert.Equal(expectedGreedy, greedy);
    }

    /// <summary>
    /// --quantize on a Hugging Face checkpoint whose experts are stored one by one: each expert is planned as part of
    /// the 3-D tensor llama.cpp's converter makes and equals its rows in llama-quantize's q8_0 file.
    /// </summary>
    [SharedFact]
    public void Experts_stored_one_by_one_quantize_on_load_to_llama_quantize_bytes()
    {
        string model = RepoPaths.InShared("arch-models", "qwen3moe-moe");
        WriteHuggingFaceCopy(model + ".gguf", "qwen3_moe", _dir);
        var config = HuggingFaceLoader.ReadConfig(_dir);
        using var weights = HuggingFaceLoader.ReadWeights(_dir, config, QuantizationScheme.Q8_0);
        using var reference = GgufFile.Open(model + "-q8_0.gguf");
        LoadTimeQuantizerTests.AssertRowsEqual(reference, "token_embd.weight", 0, weights.TokenEmbedding);
        LoadTimeQuantizerTests.AssertRowsEqual(reference, "output.weight", 0, weights.Output.Weight);
        int hidden = config.Experts!.ExpertHiddenDim, dim = config.Dim;
        for (int i = 0; i < weights.Layers.Length; i++)
        {
            var l = weights.Layers[i];
            string p = $"blk.{i}.";
            foreach (var (linear, name) in new[] { (l.Wq, "attn_q"), (l.Wk, "attn_k"), (l.Wv, "attn_v"), (l.Wo, "attn_output") })
                LoadTimeQuantizerTests.AssertRowsEqual(reference, p + name + ".weight", 0, linear.Weight);
            var moe = Assert.IsType<MixtureOfExperts>(l.FeedForward);
            LoadTimeQuantizerTests.AssertRowsEqual(reference, p + "ffn_gate_inp.weight", 0, moe.Router.Weight);
            for (int e = 0; e < moe.Experts.Count; e++)
            {
                LoadTimeQuantizerTests.AssertRowsEqual(reference, p + "ffn_gate_exps.weight", e * hidden, moe.Experts[e].Gate.Weight);
                LoadTimeQuantizerTests.AssertRowsEqual(reference, p + "ffn_up_exps.weight", e * hidden, moe.Experts[e].Up.Weight);
                LoadTimeQuantizerTests.AssertRowsEqual(reference, p + "ffn_down_exps.weight", e * dim, moe.Experts[e].Down.Weight);
            }
        }
    }

    [Fact]
    public void Bad_expert_configs_and_missing_experts_are_clear_errors()
    {
        string gguf = RepoPaths.InRoot("tests", "Inkwell.Models.Tests", "Families", "TopKMoe", "qwen3moe-top2of8.gguf");
        WriteHuggingFaceCopy(gguf, "qwen3_moe", _dir, config => config["num_experts_per_tok"] = 9);
        var e = Assert.Throws<InvalidDataException>(() => HuggingFaceLoader.ReadConfig(_dir));
        Assert.Contains("9 experts used per token out of 8", e.Message);

        WriteHuggingFaceCopy(gguf, "qwen3_moe", _dir, config => config["mlp_only_layers"] = new[] { 1 });
        e = Assert.Throws<InvalidDataException>(() => HuggingFaceLoader.ReadConfig(_dir));
        Assert.Contains("mlp_only_layers", e.Message);

        WriteHuggingFaceCopy(gguf, "qwen3_moe", _dir, skip: "model.layers.1.mlp.experts.7.up_proj.weight");
        var config = HuggingFaceLoader.ReadConfig(_dir);
        e = Assert.Throws<InvalidDataException>(() => HuggingFaceLoader.ReadWeights(_dir, config));
        Assert.Contains("model.layers.1.mlp.experts.7.up_proj.weight", e.Message);
    }

    private static void WriteHuggingFaceCopy(string gguf, string modelType, string dir, Action<Dictionary<string, object>>? editConfig = null, string? skip = null)
    {
        using var f = GgufFile.Open(gguf);
        var c = GgufDecoderLoader.ReadConfig(f);
        var moe = c.Experts!;
        bool interleaved = c.RopeStyle == RopeStyle.Interleaved;
        var tensors = new List<(string Name, long[] Shape, float[] Data)>();
        float[] Read(string name)
        {
            var t = f.Tensor(name);
            unsafe { return new ReadOnlySpan<float>(f.TensorData(t), (int)t.ElementCount).ToArray(); }
        }
        void Add(string name, float[] data, params long[] shape)
        {
            if (name != skip) tensors.Add((name, shape, data));
        }
        float[] Rows(float[] data, int first, int count, int cols) => data.AsSpan(first * cols, count * cols).ToArray();

        int dim = c.Dim, hidden = moe.ExpertHiddenDim, shared = moe.SharedHiddenDim;
        Add("model.embed_tokens.weight", Read("token_embd.weight"), c.VocabSize, dim);
        Add("model.norm.weight", Read("output_norm.weight"), dim);
        Add("lm_head.weight", Read("output.weight"), c.VocabSize, dim);
        for (int i = 0; i < c.LayerCount; i++)
        {
            string p = $"model.layers.{i}.", g = $"blk.{i}.";
            Add(p + "input_layernorm.weight", Read(g + "attn_norm.weight"), dim);
            float[] q = Read(g + "attn_q.weight"), k = Read(g + "attn_k.weight");
            if (interleaved)
            {
                q = HuggingFaceFiles.Unpermute(q, c.HeadCount, c.QDim, dim);
                k = HuggingFaceFiles.Unpermute(k, c.KvHeadCount, c.KvDim, dim);
            }
            Add(p + "self_attn.q_proj.weight", q, c.QDim, dim);
            Add(p + "self_attn.k_proj.weight", k, c.KvDim, dim);
            Add(p + "self_attn.v_proj.weight", Read(g + "attn_v.weight"), c.KvDim, dim);
            foreach (var (hf, gg, n) in new[] { ("q", "attn_q", c.QDim), ("k", "attn_k", c.KvDim), ("v", "attn_v", c.KvDim) })
                if (f.HasTensor($"{g}{gg}.bias")) Add($"{p}self_attn.{hf}_proj.bias", Read($"{g}{gg}.bias"), n);
            Add(p + "self_attn.o_proj.weight", Read(g + "attn_output.weight"), dim, c.QDim);
            if (c.QkNorm == QkNorm.PerHead)
            {
                Add(p + "self_attn.q_norm.weight", Read(g + "attn_q_norm.weight"), c.HeadDim);
                Add(p + "self_attn.k_norm.weight", Read(g + "attn_k_norm.weight"), c.HeadDim);
            }
            Add(p + "post_attention_layernorm.weight", Read(g + "ffn_norm.weight"), dim);
            float[] gate = Read(g + "ffn_gate_exps.weight"), up = Read(g + "ffn_up_exps.weight"), down = Read(g + "ffn_down_exps.weight");
            float[] router = Read(g + "ffn_gate_inp.weight");
            switch (modelType)
            {
                case "qwen3_moe":
                case "qwen2_moe":
                case "mixtral":
                {
                    bool mixtral = modelType == "mixtral";
                    string block = p + (mixtral ? "block_sparse_moe." : "mlp.");
                    Add(block + "gate.weight", router, moe.Count, dim);
                    for (int e = 0; e < moe.Count; e++)
                    {
                        string x = $"{block}experts.{e}.";
                        Add(x + (mixtral ? "w1" : "gate_proj") + ".weight", Rows(gate, e * hidden, hidden, dim), hidden, dim);
                        Add(x + (mixtral ? "w3" : "up_proj") + ".weight", Rows(up, e * hidden, hidden, dim), hidden, dim);
                        Add(x + (mixtral ? "w2" : "down_proj") + ".weight", Rows(down, e * dim, dim, hidden), dim, hidden);
                    }
                    if (modelType == "qwen2_moe")
                    {
                        Add(block + "shared_expert.gate_proj.weight", Read(g + "ffn_gate_shexp.weight"), shared, dim);
                        Add(block + "shared_expert.up_proj.weight", Read(g + "ffn_up_shexp.weight"), shared, dim);
                        Add(block + "shared_expert.down_proj.weight", Read(g + "ffn_down_shexp.weight"), dim, shared);
                        Add(block + "shared_expert_gate.weight", Read(g + "ffn_gate_inp_shexp.weight"), 1, dim);
                    }
                    break;
                }
                default:
                {
                    // Granite: per expert its gate rows, then its up rows.
                    var input = Enumerable.Range(0, moe.Count)
                        .SelectMany(e => Rows(gate, e * hidden, hidden, dim).Concat(Rows(up, e * hidden, hidden, dim))).ToArray();
                    Add(p + "block_sparse_moe.router.layer.weight", router, moe.Count, dim);
                    Add(p + "block_sparse_moe.input_linear.weight", input, moe.Count, 2 * hidden, dim);
                    Add(p + "block_sparse_moe.output_linear.weight", down, moe.Count, dim, hidden);
                    Add(p + "shared_mlp.input_linear.weight", [.. Read(g + "ffn_gate_shexp.weight"), .. Read(g + "ffn_up_shexp.weight")], 2 * shared, dim);
                    Add(p + "shared_mlp.output_linear.weight", Read(g + "ffn_down_shexp.weight"), dim, shared);
                    break;
                }
            }
        }
        var config = new Dictionary<string, object>
        {
            ["model_type"] = modelType, ["hidden_size"] = dim, ["intermediate_size"] = hidden, ["num_hidden_layers"] = c.LayerCount,
            ["num_attention_heads"] = c.HeadCount, ["num_key_value_heads"] = c.KvHeadCount, ["head_dim"] = c.HeadDim, ["vocab_size"] = c.VocabSize,
            ["max_position_embeddings"] = c.ContextLength, ["rms_norm_eps"] = c.RmsNormEps, ["rope_theta"] = c.RopeTheta,
            ["tie_word_embeddings"] = false, ["num_experts_per_tok"] = moe.UsedCount,
        };
        if (modelType is "qwen3_moe" or "qwen2_moe")
        {
            config["num_experts"] = moe.Count;
            config["moe_intermediate_size"] = hidden;
            config["norm_topk_prob"] = moe.NormalizeWeights;
            if (shared > 0) config["shared_expert_intermediate_size"] = shared;
        }
        else config["num_local_experts"] = moe.Count;
        if (modelType == "granitemoeshared")
        {
            config["shared_intermediate_size"] = shared;
            config["embedding_multiplier"] = c.EmbeddingScale;
            config["residual_multiplier"] = c.ResidualScale;
            config["attention_multiplier"] = c.AttentionScale;
            config["logits_scaling"] = 1f / c.LogitScale;
        }
        editConfig?.Invoke(config);
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
        HuggingFaceFiles.WriteSafetensors(Path.Combine(dir, "model.safetensors"), tensors);
    }
}
