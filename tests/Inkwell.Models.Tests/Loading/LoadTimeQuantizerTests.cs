using Inkwell.Models.Decoder;
using Inkwell.Models.Gguf;
using Inkwell.Models.Loading;
using Inkwell.Models.Tests.Families;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;
using Inkwell.TestSupport;
using Xunit.Abstractions;

namespace Inkwell.Models.Tests.Loading;

/// <summary>
/// --quantize on load: every matrix in memory, including the row views of fused QKV / gate-up tensors and of 3-D
/// expert tensors, is byte for byte the rows llama-quantize wrote (../shared/arch-models/*-q8_0.gguf, made by
/// llama-quantize), the logits match llama.cpp's for its q8_0 file, and the names of every source format map to
/// llama.cpp's rules.
/// </summary>
public sealed class LoadTimeQuantizerTests(ITestOutputHelper output)
{
    private static string Stories => Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K-f32.gguf");

    /// <summary>Dense (llama, qwen2), fused QKV and gate/up (phi3), mixture of experts (qwen3moe).</summary>
    public static TheoryData<string> Models => new() { "llama-dense", "qwen2-dense", "phi3-dense", "qwen3moe-moe" };

    [SharedTheory]
    [MemberData(nameof(Models))]
    public void Matrices_equal_llama_quantize_q8_0(string model)
    {
        using var reference = GgufFile.Open(RepoPaths.InShared("arch-models", model + "-q8_0.gguf"));
        using var quantized = ModelLoader.Load(RepoPaths.InShared("arch-models", model + ".gguf"), quantize: QuantizationScheme.Q8_0);
        var covered = new HashSet<string>(StringComparer.Ordinal);
        foreach (var m in Matrices(quantized.Weights))
        {
            var (name, firstRow) = TensorAndRow(m.Name);
            AssertRowsEqual(reference, name, firstRow, m);
            covered.Add(name);
        }
        // Nothing llama-quantize re-encoded is missing from the model (the walk above saw every such tensor).
        var requantized = reference.Tensors.Where(t => t.Type != GgmlType.F32).Select(t => t.Name).ToList();
        Assert.NotEmpty(requantized);
        Assert.All(requantized, name => Assert.Contains(name, covered));
    }

    [SharedTheory]
    [MemberData(nameof(Models))]
    public void Logits_of_a_q8_0_load_match_llama_cpp_on_its_q8_0_file(string model)
    {
        string path = RepoPaths.InShared("arch-models", model);
        var (nmse, _, _) = FamilyLogitsTests.Compare(path + "-q8_0.logits.json", ModelLoader.Load(path + ".gguf", quantize: QuantizationScheme.Q8_0));
        output.WriteLine($"{model} --quantize q8_0: NMSE {nmse:E2}");
        Assert.True(nmse <= 1e-3, $"{model} --quantize q8_0: NMSE {nmse:E3} exceeds 1e-3");
    }

    [Fact]
    public void Stories260K_q4_0_follows_llama_quantize_rules_and_still_runs()
    {
        using var model = ModelLoader.Load(Stories, quantize: QuantizationScheme.Q4_0);
        var layer = model.Weights.Layers[0];
        var feedForward = Assert.IsType<GatedFeedForward>(layer.FeedForward);
        Assert.Equal(GgmlType.Q4_0, layer.Wq.Weight.Type);
        Assert.Equal(GgmlType.F16, feedForward.Down.Weight.Type);          // 172 columns: not whole 32-blocks, ggml falls back to F16
        Assert.Equal(GgmlType.Q4_0, model.Weights.TokenEmbedding.Type);    // this file has its own output.weight: not tied
        Assert.Equal(GgmlType.Q8_0, model.Weights.Output.Weight.Type);     // output gets Q6_K, which 64 columns do not fill: Q8_0
        using var pool = new WorkerPool(1);
        var (logits, _) = TokenLogits.Evaluate(model.CreateModel(pool), [model.Tokenizer.BosId], 0);
        Assert.All(logits[0], v => Assert.True(float.IsFinite(v)));
    }

    [Fact]
    public void Llama2c_checkpoint_names_map_to_the_same_plan_as_its_gguf()
    {
        using var fromGguf = ModelLoader.Load(Stories, quantize: QuantizationScheme.Q4_K_M);
        using var fromLlama2c = ModelLoader.Load(Path.Combine(RepoPaths.EmbeddedModelDir, "stories260K.bin"),
            Path.Combine(RepoPaths.EmbeddedModelDir, "tok512.bin"), QuantizationScheme.Q4_K_M);
        for (int i = 0; i < fromGguf.Weights.Layers.Length; i++)
            Assert.Equal(LayerTypes(fromGguf.Weights.Layers[i]), LayerTypes(fromLlama2c.Weights.Layers[i]));
        // The llama2c checkpoint ties its classifier to the embedding, so that one matrix is planned as the output,
        // as llama-quantize plans a tied token_embd; the GGUF carries a separate output.weight.
        Assert.Same(fromLlama2c.Weights.TokenEmbedding, fromLlama2c.Weights.Output.Weight);
        Assert.Equal(fromGguf.Weights.Output.Weight.Type, fromLlama2c.Weights.Output.Weight.Type);
    }

    [Theory]
    [InlineData("model.layers.3.self_attn.v_proj.weight", "blk.3.attn_v.weight")]
    [InlineData("model.layers.12.mlp.down_proj.weight", "blk.12.ffn_down.weight")]
    [InlineData("model.layers.0.self_attn.qkv_proj.weight", "blk.0.attn_qkv.weight")]
    [InlineData("model.layers.0.mlp.gate_up_proj.weight", "blk.0.ffn_up.weight")]
    [InlineData("model.layers.2.mlp.experts.17.down_proj.weight", "blk.2.ffn_down_exps.weight")]
    [InlineData("model.layers.1.block_sparse_moe.experts.3.w1.weight", "blk.1.ffn_gate_exps.weight")]
    [InlineData("model.layers.1.block_sparse_moe.input_linear.weight", "blk.1.ffn_up_exps.weight")]
    [InlineData("model.layers.1.mlp.shared_expert.down_proj.weight", "blk.1.ffn_down_shexp.weight")]
    [InlineData("model.layers.1.mlp.gate.weight", "blk.1.ffn_gate_inp.weight")]
    [InlineData("lm_head.weight", "output.weight")]
    [InlineData("model.embed_tokens.weight", "token_embd.weight")]
    [InlineData("layers.0.w2", "blk.0.ffn_down.weight")]
    [InlineData("blk.1.attn_q.weight", "blk.1.attn_q.weight")]
    public void Source_names_translate_to_llama_cpp_names(string source, string expected) =>
        Assert.Equal(expected, LoadTimeQuantizer.LlamaCppName(source));

    [Fact]
    public void Experts_stored_one_by_one_are_planned_as_their_3d_tensor()
    {
        var config = new ModelConfig
        {
            Architecture = "qwen3moe", Dim = 64, HiddenDim = 64, LayerCount = 1, HeadCount = 1, KvHeadCount = 1, VocabSize = 32, ContextLength = 16,
            Experts = new ExpertsConfig { Count = 2, UsedCount = 1, ExpertHiddenDim = 64, Gating = ExpertGating.Softmax, NormalizeWeights = true },
        };
        var tensors = new List<(string, long[], GgmlType)> { ("model.embed_tokens.weight", new long[] { 32, 64 }, GgmlType.F32), ("lm_head.weight", new long[] { 32, 64 }, GgmlType.F32) };
        for (int e = 0; e < 2; e++) tensors.Add(($"model.layers.0.mlp.experts.{e}.down_proj.weight", new long[] { 64, 64 }, GgmlType.F32));
        var plan = LoadTimeQuantizer.ForCheckpoint(tensors, config, QuantizationScheme.Q8_0).Plan;
        Assert.Equal(GgmlType.Q8_0, plan.TargetOf("blk.0.ffn_down_exps.weight"));
        Assert.Equal(3, plan.Targets.Count);
    }

    /// <summary><paramref name="m"/> is rows <paramref name="firstRow"/>.. of the reference's tensor, in its encoding and byte for byte.</summary>
    internal static unsafe void AssertRowsEqual(GgufFile reference, string tensor, int firstRow, WeightMatrix m)
    {
        var t = reference.Tensor(tensor);
        Assert.Equal((m.Name, t.Type), (m.Name, m.Type));
        Assert.True((firstRow + m.Rows) * m.RowBytes <= t.ByteCount, $"{m.Name}: rows {firstRow}..{firstRow + m.Rows} outside {tensor}");
        var expected = new ReadOnlySpan<byte>(reference.TensorData(t) + firstRow * m.RowBytes, checked((int)m.TotalBytes));
        Assert.True(new ReadOnlySpan<byte>(m.Data, (int)m.TotalBytes).SequenceEqual(expected), $"{m.Name} differs from rows {firstRow}.. of {tensor}");
    }

    private static GgmlType[] LayerTypes(DecoderLayerWeights l)
    {
        var f = Assert.IsType<GatedFeedForward>(l.FeedForward);
        return [l.Wq.Weight.Type, l.Wk.Weight.Type, l.Wv.Weight.Type, l.Wo.Weight.Type, f.Gate.Weight.Type, f.Up.Weight.Type, f.Down.Weight.Type];
    }

    /// <summary>Every matrix the forward pass reads, expert and fused-tensor views included.</summary>
    private static IEnumerable<WeightMatrix> Matrices(DecoderWeights w)
    {
        IEnumerable<Linear> Dense(GatedFeedForward f) => [f.Gate, f.Up, f.Down];
        var linears = new List<Linear> { w.Output };
        foreach (var l in w.Layers)
        {
            linears.AddRange([l.Wq, l.Wk, l.Wv, l.Wo]);
            switch (l.FeedForward)
            {
                case GatedFeedForward f:
                    linears.AddRange(Dense(f));
                    break;
                case MixtureOfExperts moe:
                    linears.Add(moe.Router);
                    foreach (var e in moe.Experts) linears.AddRange(Dense(e));
                    if (moe.Shared is { } shared) linears.AddRange(Dense(shared));
                    if (moe.SharedGate is { } gate) linears.Add(gate);
                    break;
                default:
                    throw new InvalidOperationException($"unknown feed-forward {l.FeedForward.GetType().Name}");
            }
        }
        return linears.Select(x => x.Weight).Prepend(w.TokenEmbedding);
    }

    /// <summary>"blk.0.attn_qkv.weight[64..96]" (a <see cref="WeightMatrix.RowSlice"/>) to the tensor and its first row.</summary>
    private static (string Tensor, int FirstRow) TensorAndRow(string name)
    {
        int open = name.IndexOf('[');
        if (open < 0) return (name, 0);
        return (name[..open], int.Parse(name.AsSpan(open + 1, name.IndexOf("..", open, StringComparison.Ordinal) - open - 1)));
    }
}
