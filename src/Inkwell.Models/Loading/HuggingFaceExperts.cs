using Inkwell.Models.Decoder;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Loading;

/// <summary>
/// A Hugging Face block's mixture of experts, in the three layouts transformers checkpoints use:
/// Mixtral (block_sparse_moe.gate, experts.E.w1 gate / w3 up / w2 down), Qwen3-MoE (mlp.gate,
/// mlp.experts.E.gate_proj / up_proj / down_proj; Qwen2-MoE adds mlp.shared_expert.*_proj and mlp.shared_expert_gate)
/// and Granite MoE (block_sparse_moe.router.layer, 3-D input_linear
/// [experts, 2·hidden, dim] holding each expert's gate rows then its up rows, output_linear [experts, dim, hidden], and
/// for granitemoeshared a shared_mlp with the same fused layout). Expert matrices are views, never copies.
/// </summary>
internal static class HuggingFaceExperts
{
    public static MixtureOfExperts Read(Func<string, bool> has, Func<string, int, int, WeightMatrix> matrix, string prefix, ModelConfig c)
    {
        var moe = c.Experts!;
        int dim = c.Dim, count = moe.Count, hidden = moe.ExpertHiddenDim;
        var experts = new GatedFeedForward[count];
        GatedFeedForward? shared = null;
        Linear? sharedGate = null;
        Linear router;
        GatedFeedForward Expert(WeightMatrix gate, WeightMatrix up, WeightMatrix down) => new(new Linear(gate), new Linear(up), new Linear(down), c.Activation);

        if (has(prefix + "block_sparse_moe.router.layer.weight"))
        {
            router = new Linear(matrix(prefix + "block_sparse_moe.router.layer.weight", count, dim));
            var input = matrix(prefix + "block_sparse_moe.input_linear.weight", count * 2 * hidden, dim);
            var output = matrix(prefix + "block_sparse_moe.output_linear.weight", count * dim, hidden);
            for (int e = 0; e < count; e++)
                experts[e] = Expert(input.RowSlice(e * 2 * hidden, hidden), input.RowSlice(e * 2 * hidden + hidden, hidden), output.RowSlice(e * dim, dim));
            if (moe.SharedHiddenDim > 0)
            {
                int sharedHidden = moe.SharedHiddenDim;
                var sharedInput = matrix(prefix + "shared_mlp.input_linear.weight", 2 * sharedHidden, dim);
                shared = Expert(sharedInput.RowSlice(0, sharedHidden), sharedInput.RowSlice(sharedHidden, sharedHidden),
                    matrix(prefix + "shared_mlp.output_linear.weight", dim, sharedHidden));
            }
        }
        else
        {
            bool mixtral = has(prefix + "block_sparse_moe.gate.weight");
            string block = prefix + (mixtral ? "block_sparse_moe." : "mlp.");
            router = new Linear(matrix(block + "gate.weight", count, dim));
            var (gateName, upName, downName) = mixtral ? ("w1", "w3", "w2") : ("gate_proj", "up_proj", "down_proj");
            for (int e = 0; e < count; e++)
            {
                string p = $"{block}experts.{e}.";
                experts[e] = Expert(matrix(p + gateName + ".weight", hidden, dim), matrix(p + upName + ".weight", hidden, dim),
                    matrix(p + downName + ".weight", dim, hidden));
            }
            if (moe.SharedHiddenDim > 0)
            {
                if (mixtral) throw new InvalidDataException($"{c.Architecture}: Mixtral's layout has no shared expert");
                int sharedHidden = moe.SharedHiddenDim;
                string p = block + "shared_expert.";
                shared = Expert(matrix(p + "gate_proj.weight", sharedHidden, dim), matrix(p + "up_proj.weight", sharedHidden, dim),
                    matrix(p + "down_proj.weight", dim, sharedHidden));
            }
            if (moe.SharedExpertGate) sharedGate = new Linear(matrix(block + "shared_expert_gate.weight", 1, dim));
        }
        return new MixtureOfExperts(router, experts, shared, moe, sharedGate);
    }
}
