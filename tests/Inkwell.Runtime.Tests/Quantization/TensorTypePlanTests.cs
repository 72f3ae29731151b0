using System.Text.Json;
using Inkwell.Runtime.Quantization;
using Inkwell.Runtime.Tensors;
using Inkwell.TestSupport;

namespace Inkwell.Runtime.Tests.Quantization;

/// <summary>
/// The per-tensor choices against llama-quantize's: tests/fixtures/llama-quantize/stories15M-types.json lists the
/// tensors of a stories15M-shaped f32 GGUF and the type llama-quantize gave each under q8_0, q4_0, q4_k and q6_k
/// (Q6_K for some ffn_down in Q4_K_M, fallbacks to Q5_0 / Q8_0 for 288 columns, norms kept F32).
/// </summary>
public sealed class TensorTypePlanTests
{
    [Theory]
    [InlineData("q8_0")]
    [InlineData("q4_0")]
    [InlineData("q4_k")]
    [InlineData("q6_k")]
    public void Choices_equal_llama_quantize(string scheme)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(RepoPaths.InRoot("tests", "fixtures", "llama-quantize", "stories15M-types.json")));
        var root = doc.RootElement;
        var tensors = root.GetProperty("tensors").EnumerateArray().Select(t => new PlannedTensor(
            t.GetProperty("name").GetString()!, t.GetProperty("dims").EnumerateArray().Select(d => d.GetInt64()).ToArray(),
            Enum.Parse<GgmlType>(t.GetProperty("type").GetString()!))).ToList();
        var plan = new TensorTypePlan(QuantizationScheme.Parse(scheme), tensors, root.GetProperty("block_count").GetInt32(), 0, "llama");
        foreach (var expected in root.GetProperty(scheme).EnumerateObject())
            Assert.True(Enum.Parse<GgmlType>(expected.Value.GetString()!) == plan.TargetOf(expected.Name),
                $"{scheme}: {expected.Name} is {expected.Value.GetString()} in llama-quantize's file, planned {plan.TargetOf(expected.Name)}");
    }

    [Fact]
    public void Tied_embeddings_get_the_output_type_and_eight_expert_models_keep_attention_v_in_q8_0()
    {
        var tensors = new List<PlannedTensor>
        {
            new("token_embd.weight", [512, 1000], GgmlType.F16),
            new("blk.0.attn_v.weight", [512, 128], GgmlType.F32),
            new("blk.0.attn_q.weight", [512, 512], GgmlType.BF16),
            new("blk.0.attn_norm.weight", [512], GgmlType.F32),
            new("blk.0.ffn_gate_inp.weight", [512, 8], GgmlType.F32),
        };
        var plan = new TensorTypePlan(QuantizationScheme.Q4_0, tensors, layerCount: 1, expertCount: 8, "llama");
        Assert.Equal(GgmlType.Q6_K, plan.TargetOf("token_embd.weight"));   // no output.weight: tied, planned as the output
        Assert.Equal(GgmlType.Q8_0, plan.TargetOf("blk.0.attn_v.weight"));
        Assert.Equal(GgmlType.Q4_0, plan.TargetOf("blk.0.attn_q.weight"));
        Assert.Equal(GgmlType.F32, plan.TargetOf("blk.0.attn_norm.weight"));
        Assert.Equal(GgmlType.F32, plan.TargetOf("blk.0.ffn_gate_inp.weight")); // the router stays as it is
    }

    [Fact]
    public void Llama_cpp_order_sorts_by_layer_number_then_name()
    {
        var names = new[] { "blk.10.attn_q.weight", "output.weight", "blk.2.ffn_up.weight", "blk.2.attn_k.weight", "token_embd.weight" };
        Assert.Equal(["output.weight", "token_embd.weight", "blk.2.attn_k.weight", "blk.2.ffn_up.weight", "blk.10.attn_q.weight"],
            names.Order(LlamaCppTensorOrder.Instance));
    }
}
