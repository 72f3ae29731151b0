using System.Text.Json;
using Inkwell.Models.Decoder;
using Inkwell.Models.Families;
using Inkwell.Models.Gguf;
using Inkwell.Models.Loading;
using Inkwell.Models.Tests.Loading;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Models.Tests.Families;

/// <summary>
/// The config.json + safetensors form of each family: the arch-models GGUF written back the way
/// convert_hf_to_gguf.py would have read it (Hugging Face tensor names and config keys, Q/K rows un-permuted for the
/// interleaved-RoPE families, Gemma's norms as w with x·(1 + w), per-tensor scales folded into the weights, RoPE
/// factors as a longrope rope_scaling), loaded by the Hugging Face loader and checked against llama.cpp's logits.
/// </summary>
public sealed class HuggingFaceFamilyTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("inkwell-hf-family-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Families => new() { "llama", "qwen2", "qwen3", "gemma2", "gemma3", "phi3", "granite", "olmo2", "smollm3" };

    [SharedTheory]
    [MemberData(nameof(Families))]
    public void Safetensors_form_matches_llama_cpp(string family)
    {
        WriteHuggingFaceCopy(RepoPaths.InShared("arch-models", $"{family}-dense.gguf"), _dir);
        using var reference = JsonDocument.Parse(File.ReadAllText(RepoPaths.InShared("arch-models", $"{family}-dense.logits.json")));
        var root = reference.RootElement;
        var tokens = root.GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray();
        var expected = root.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetSingle()).ToArray()).ToArray();
        var expectedGreedy = root.GetProperty("greedy").EnumerateArray().Select(t => t.GetInt32()).ToArray();

        var config = HuggingFaceLoader.ReadConfig(_dir);
        Assert.Equal(family, config.Architecture);
        using var pool = new WorkerPool(2);
        using var model = new DecoderModel(config, HuggingFaceLoader.ReadWeights(_dir, config), pool);
        var (logits, greedy) = TokenLogits.Evaluate(model, tokens, expectedGreedy.Length);
        double nmse = TokenLogits.NormalizedMse(logits, expected);
        output.WriteLine($"{family} safetensors: NMSE {nmse:E2}");
        Assert.True(nmse <= 1e-5, $"{family}: NMSE {nmse:E3} exceeds 1e-5");
        Assert.Equal(expectedGreedy, greedy);
    }

    [Theory]
    [InlineData("4096", 4096)]
    [InlineData("null", 0)]
    public void Mistral_sliding_window_applies_to_every_layer_when_config_json_sets_one(string window, int expected)
    {
        File.WriteAllText(Path.Combine(_dir, "config.json"), $$"""
            {"model_type": "mistral", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 3,
             "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 32, "max_position_embeddings": 32768,
             "sliding_window": {{window}}}
            """);
        var c = HuggingFaceLoader.ReadConfig(_dir);
        Assert.All(Enumerable.Range(0, c.LayerCount), l => Assert.Equal(expected, c.AttentionShape(l).Window));
    }

    private static void WriteHuggingFaceCopy(string ggufPath, string dir)
    {
        using var f = GgufFile.Open(ggufPath);
        var c = GgufDecoderLoader.ReadConfig(f);
        var family = DecoderFamilies.ByArchitecture(c.Architecture)!;
        bool interleaved = family.GgufRopeStyle == RopeStyle.Interleaved;
        var tensors = new List<(string Name, long[] Shape, float[] Data)>();
        unsafe float[] Read(string name)
        {
            var t = f.Tensor(name);
            return new ReadOnlySpan<float>(f.TensorData(t), (int)t.ElementCount).ToArray();
        }
        float Scale(string name) => f.HasTensor(name) ? Read(name)[0] : 1f;
        void Add(string hf, float[] data, params long[] shape) => tensors.Add((hf, shape, data));
        float[] Scaled(float[] data, float scale) => data.Select(v => v * scale).ToArray();
        float[] Norm(string name) => family.HuggingFaceNormPlusOne ? Read(name).Select(v => v - 1f).ToArray() : Read(name);
        float[] Rows(string name, int heads, int rows, int cols) => interleaved ? HuggingFaceFiles.Unpermute(Read(name), heads, rows, cols) : Read(name);

        int dim = c.Dim, qDim = c.QDim, kvDim = c.KvDim, hidden = c.HiddenDim;
        Add("model.embed_tokens.weight", Read("token_embd.weight"), c.VocabSize, dim);
        Add("model.norm.weight", Norm("output_norm.weight"), dim);
        if (f.HasTensor("output.weight")) Add("lm_head.weight", Read("output.weight"), c.VocabSize, dim);
        if (f.HasTensor("output.bias")) Add("lm_head.bias", Read("output.bias"), c.VocabSize);
        for (int i = 0; i < c.LayerCount; i++)
        {
            string p = $"model.layers.{i}.", g = $"blk.{i}.";
            var q = Scaled(Rows(g + "attn_q.weight", c.HeadCount, qDim, dim), Scale(g + "attn_q.scale"));
            var k = Scaled(Rows(g + "attn_k.weight", c.KvHeadCount, kvDim, dim), Scale(g + "attn_k.scale"));
            var v = Scaled(Read(g + "attn_v.weight"), Scale(g + "attn_v.scale"));
            float[]? bq = f.HasTensor(g + "attn_q.bias") ? Rows(g + "attn_q.bias", c.HeadCount, qDim, 1) : null;
            float[]? bk = f.HasTensor(g + "attn_k.bias") ? Rows(g + "attn_k.bias", c.KvHeadCount, kvDim, 1) : null;
            float[]? bv = f.HasTensor(g + "attn_v.bias") ? Read(g + "attn_v.bias") : null;
            if (c.Architecture == "phi3")
            {
                // Phi-3's checkpoints fuse Q, K and V (and gate and up) into one projection.
                Add(p + "self_attn.qkv_proj.weight", [.. q, .. k, .. v], qDim + 2 * kvDim, dim);
                if (bq is not null) Add(p + "self_attn.qkv_proj.bias", [.. bq, .. bk!, .. bv!], qDim + 2 * kvDim);
            }
            else
            {
                Add(p + "self_attn.q_proj.weight", q, qDim, dim);
                Add(p + "self_attn.k_proj.weight", k, kvDim, dim);
                Add(p + "self_attn.v_proj.weight", v, kvDim, dim);
                if (bq is not null) Add(p + "self_attn.q_proj.bias", bq, qDim);
                if (bk is not null) Add(p + "self_attn.k_proj.bias", bk, kvDim);
                if (bv is not null) Add(p + "self_attn.v_proj.bias", bv, kvDim);
            }
            Add(p + "self_attn.o_proj.weight", Scaled(Read(g + "attn_output.weight"), Scale(g + "attn_output.scale")), dim, qDim);
            if (f.HasTensor(g + "attn_output.bias")) Add(p + "self_attn.o_proj.bias", Read(g + "attn_output.bias"), dim);
            if (f.HasTensor(g + "attn_q_norm.weight"))
            {
                int qn = c.QkNorm == QkNorm.AcrossHeads ? qDim : c.HeadDim, kn = c.QkNorm == QkNorm.AcrossHeads ? kvDim : c.HeadDim;
                Add(p + "self_attn.q_norm.weight", Norm(g + "attn_q_norm.weight"), qn);
                Add(p + "self_attn.k_norm.weight", Norm(g + "attn_k_norm.weight"), kn);
            }
            if (f.HasTensor(g + "attn_norm.weight")) Add(p + "input_layernorm.weight", Norm(g + "attn_norm.weight"), dim);
            if (c.Norms == NormPlacement.Pre) Add(p + "post_attention_layernorm.weight", Norm(g + "ffn_norm.weight"), dim);
            else Add(p + "post_attention_layernorm.weight", Norm(g + "post_attention_norm.weight"), dim);
            if (c.Norms == NormPlacement.PreAndPost) Add(p + "pre_feedforward_layernorm.weight", Norm(g + "ffn_norm.weight"), dim);
            if (c.Norms != NormPlacement.Pre) Add(p + "post_feedforward_layernorm.weight", Norm(g + "post_ffw_norm.weight"), dim);

            if (!f.HasTensor(g + "ffn_gate.weight"))
            {
                Add(p + "mlp.gate_up_proj.weight", Read(g + "ffn_up.weight"), 2 * hidden, dim);
                Add(p + "mlp.down_proj.weight", Read(g + "ffn_down.weight"), dim, hidden);
                continue;
            }
            foreach (var (hf, gg, rows, cols) in new[] { ("gate_proj", "ffn_gate", hidden, dim), ("up_proj", "ffn_up", hidden, dim), ("down_proj", "ffn_down", dim, hidden) })
            {
                // llama.cpp applies these scales after the bias, so both scale.
                float s = family.FeedForwardScales ? Scale($"{g}{gg}.scale") : 1f;
                Add($"{p}mlp.{hf}.weight", Scaled(Read($"{g}{gg}.weight"), s), rows, cols);
                if (f.HasTensor($"{g}{gg}.bias")) Add($"{p}mlp.{hf}.bias", Scaled(Read($"{g}{gg}.bias"), s), rows);
            }
        }

        var config = new Dictionary<string, object>
        {
            ["model_type"] = c.Architecture, ["hidden_size"] = dim, ["intermediate_size"] = hidden, ["num_hidden_layers"] = c.LayerCount,
            ["num_attention_heads"] = c.HeadCount, ["num_key_value_heads"] = c.KvHeadCount, ["head_dim"] = c.HeadDim,
            ["vocab_size"] = c.VocabSize, ["max_position_embeddings"] = c.ContextLength, ["rms_norm_eps"] = c.RmsNormEps,
            ["rope_theta"] = c.RopeTheta, ["tie_word_embeddings"] = !f.HasTensor("output.weight"),
        };
        if (c.RopeFrequencyFactors is { } factors)
        {
            config["rope_scaling"] = new Dictionary<string, object>
            {
                ["rope_type"] = "longrope", ["short_factor"] = factors, ["long_factor"] = factors,
                ["original_max_position_embeddings"] = c.ContextLength, ["attention_factor"] = 1.0,
            };
        }
        string[] LayerTypes() => c.SlidingLayers.Select(s => s ? "sliding_attention" : "full_attention").ToArray();
        switch (c.Architecture)
        {
            case "gemma2":
                config["query_pre_attn_scalar"] = c.HeadDim;
                config["attn_logit_softcapping"] = c.AttentionSoftCap;
                config["final_logit_softcapping"] = c.FinalLogitSoftCap;
                config["sliding_window"] = c.SlidingWindow;
                break;
            case "gemma3":
                config["model_type"] = "gemma3_text";
                config["query_pre_attn_scalar"] = c.HeadDim;
                config["sliding_window"] = c.SlidingWindow;
                config["layer_types"] = LayerTypes();
                config["rope_local_base_freq"] = c.RopeThetaSliding;
                break;
            case "granite":
                config["embedding_multiplier"] = c.EmbeddingScale;
                config["residual_multiplier"] = c.ResidualScale;
                config["attention_multiplier"] = c.AttentionShape(0).Scale;
                config["logits_scaling"] = 1f / c.LogitScale;
                break;
            case "olmo2" when c.SlidingWindow > 0:
                config["model_type"] = "olmo3";
                config["sliding_window"] = c.SlidingWindow;
                config["layer_types"] = LayerTypes();
                break;
            case "smollm3":
                config["no_rope_layers"] = Enumerable.Range(0, c.LayerCount).Select(l => c.UsesRope(l) ? 1 : 0).ToArray();
                break;
        }
        File.WriteAllText(Path.Combine(dir, "config.json"), JsonSerializer.Serialize(config));
        HuggingFaceFiles.WriteSafetensors(Path.Combine(dir, "model.safetensors"), tensors);
    }
}
