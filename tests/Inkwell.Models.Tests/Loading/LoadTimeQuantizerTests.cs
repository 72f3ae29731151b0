using Inkwell.Models.Gguf;
using Inkwell.Models.Llama;
using Inkwell.Models.Loading;
using Inkwell.Models.Tokenizers;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;

namespace Inkwell.Models.Tests.Loading;

/// <summary>
/// --quantize on load: the matrices in memory are the ones llama-quantize writes (../shared/arch-models/*-q8_0.gguf,
/// made by llama-quantize), and the names of every source format map to llama.cpp's rules.
/// </summary>
public sealed class LoadTimeQuantizerTests
{
    private static string Stories => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");

    [SharedTheory]
    [InlineData("llama-dense")]
    [InlineData("qwen2-dense")]
    public unsafe void Matrices_equal_llama_quantize_q8_0(string model)
    {
        using var reference = GgufFile.Open(RepoPaths.InShared("arch-models", model + "-q8_0.gguf"));
        using var quantized = LoadTimeQuantizer.Apply(LoadWithoutVocabulary(RepoPaths.InShared("arch-models", model + ".gguf")), QuantizationScheme.Q8_0);
        var w = quantized.Weights;
        var matrices = w.Layers.SelectMany(l => new[] { l.Wq, l.Wk, l.Wv, l.Wo, l.WGate, l.WUp, l.WDown }).Append(w.TokenEmbedding).Append(w.Output);
        foreach (var m in matrices)
        {
            var t = reference.Tensor(m.Name);
            Assert.Equal(t.Type, m.Type);
            Assert.True(new ReadOnlySpan<byte>(m.Data, (int)m.TotalBytes).SequenceEqual(new ReadOnlySpan<byte>(reference.TensorData(t), (int)t.ByteCount)), $"{model}: {m.Name} differs");
        }
    }

    [Fact]
    public void Stories260K_q4_0_follows_llama_quantize_rules_and_still_runs()
    {
        using var model = ModelLoader.Load(Stories, quantize: QuantizationScheme.Q4_0);
        var layer = model.Weights.Layers[0];
        Assert.Equal(GgmlType.Q4_0, layer.Wq.Type);
        Assert.Equal(GgmlType.F16, layer.WDown.Type);                // 172 columns: not whole 32-blocks, ggml falls back to F16
        Assert.Equal(GgmlType.Q4_0, model.Weights.TokenEmbedding.Type); // this file has its own output.weight: not tied
        Assert.Equal(GgmlType.Q8_0, model.Weights.Output.Type);         // output gets Q6_K, which 64 columns do not fill: Q8_0
        using var pool = new WorkerPool(1);
        var llama = new LlamaModel(model.Config, model.Weights, pool);
        var (kv, table) = llama.CreateSequenceCache(8);
        var logits = llama.Forward([new SequenceChunk(new[] { model.Tokenizer.BosId }, 0, table)], kv);
        Assert.All(logits.ToArray(), v => Assert.True(float.IsFinite(v)));
    }

    [SharedFact]
    public void Llama2c_checkpoint_names_map_to_the_same_plan_as_its_gguf()
    {
        using var fromGguf = ModelLoader.Load(Stories, quantize: QuantizationScheme.Q4_K_M);
        using var fromLlama2c = ModelLoader.Load(RepoPaths.InShared("models", "stories260K", "stories260K.bin"),
            Path.Combine(RepoPaths.EmbeddedModelDir, "tok512.bin"), QuantizationScheme.Q4_K_M);
        for (int i = 0; i < fromGguf.Weights.Layers.Length; i++)
        {
            LlamaLayerWeights a = fromGguf.Weights.Layers[i], b = fromLlama2c.Weights.Layers[i];
            Assert.Equal([a.Wq.Type, a.Wk.Type, a.Wv.Type, a.Wo.Type, a.WGate.Type, a.WUp.Type, a.WDown.Type],
                [b.Wq.Type, b.Wk.Type, b.Wv.Type, b.Wo.Type, b.WGate.Type, b.WUp.Type, b.WDown.Type]);
        }
        // The llama2c checkpoint ties its classifier to the embedding, so that one matrix is planned as the output,
        // as llama-quantize plans a tied token_embd; the GGUF carries a separate output.weight.
        Assert.Same(fromLlama2c.Weights.TokenEmbedding, fromLlama2c.Weights.Output);
        Assert.Equal(fromGguf.Weights.Output.Type, fromLlama2c.Weights.Output.Type);
    }

    [Theory]
    [InlineData("model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight")]
    [InlineData("model.layers.12.mlp.down_proj.weight", "blk.12.ffn_down.weight")]
    [InlineData("lm_head.weight", "output.weight")]
    [InlineData("model.embed_tokens.weight", "token_embd.weight")]
    [InlineData("layers.0.w2", "blk.0.ffn_down.weight")]
    [InlineData("blk.1.attn_q.weight", "blk.1.attn_q.weight")]
    public void Source_names_translate_to_llama_cpp_names(string source, string expected) =>
        Assert.Equal(expected, LoadTimeQuantizer.LlamaCppName(source));

    /// <summary>arch-models carry a placeholder vocabulary; the weights are what matters here.</summary>
    private static LoadedModel LoadWithoutVocabulary(string path)
    {
        var file = GgufFile.Open(path);
        var config = GgufLlamaLoader.ReadConfig(file);
        return new LoadedModel
        {
            Name = Path.GetFileName(path),
            Path = path,
            Format = "gguf",
            Config = config,
            Weights = GgufLlamaLoader.ReadWeights(file, config),
            Tokenizer = Tokenizer.FromLlama2cFile(Path.Combine(RepoPaths.EmbeddedModelDir, "tok512.bin"), 512),
        };
    }
}
