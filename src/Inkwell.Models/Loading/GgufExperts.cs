using Inkwell.Models.Decoder;
using Inkwell.Models.Families;
using Inkwell.Models.Gguf;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Loading;

/// <summary>
/// A GGUF block's mixture of experts by llama.cpp's names: the router blk.N.ffn_gate_inp [count, dim], the experts'
/// 3-D ffn_{gate,up,down}_exps (ggml [in, out, count], so expert e's [out, in] matrix is rows e·out.. of the
/// tensor seen as [count·out, in]: a view over the mapped bytes, exact for block quantizations since a row is whole
/// blocks), their optional per-expert ".scale" vectors [count], and the shared expert ffn_*_shexp (with its gate
/// ffn_gate_inp_shexp [dim]) when the family has one.
/// </summary>
internal static class GgufExperts
{
    /// <param name="matrix">The loader's matrix accessor (name, rows, cols), which applies --quantize to whole tensors.</param>
    public static MixtureOfExperts Read(GgufFile f, Func<string, int, int, WeightMatrix> matrix, string prefix, ModelConfig c, DecoderFamily family)
    {
        var moe = c.Experts!;
        int dim = c.Dim, count = moe.Count, hidden = moe.ExpertHiddenDim;
        if (!f.HasTensor(prefix + "ffn_gate_exps.weight"))
            throw GgufFile.Bad(f.Path, $"tensor '{prefix}ffn_gate_exps.weight' is missing (experts without a gate projection are not supported)");
        var gate = matrix(prefix + "ffn_gate_exps.weight", count * hidden, dim);
        var up = matrix(prefix + "ffn_up_exps.weight", count * hidden, dim);
        var down = matrix(prefix + "ffn_down_exps.weight", count * dim, hidden);
        float[]? Scales(string name) =>
            family.FeedForwardScales && f.HasTensor(prefix + name + ".scale") ? GgufDecoderLoader.Vector(f, prefix + name + ".scale", count) : null;
        float[]? gateScales = Scales("ffn_gate_exps"), upScales = Scales("ffn_up_exps"), downScales = Scales("ffn_down_exps");

        var experts = new GatedFeedForward[count];
        for (int e = 0; e < count; e++)
        {
            experts[e] = new GatedFeedForward(
                new Linear(gate.RowSlice(e * hidden, hidden), scale: gateScales?[e] ?? 1f, biasFirst: true),
                new Linear(up.RowSlice(e * hidden, hidden), scale: upScales?[e] ?? 1f, biasFirst: true),
                new Linear(down.RowSlice(e * dim, dim), scale: downScales?[e] ?? 1f, biasFirst: true),
                c.Activation);
        }

        GatedFeedForward? shared = null;
        if (moe.SharedHiddenDim > 0)
        {
            int sharedHidden = moe.SharedHiddenDim;
            Linear Shared(string name, int rows, int cols)
            {
                string scale = prefix + name + ".scale";
                return new Linear(matrix(prefix + name + ".weight", rows, cols),
                    scale: family.FeedForwardScales && f.HasTensor(scale) ? GgufDecoderLoader.Vector(f, scale, 1)[0] : 1f, biasFirst: true);
            }
            shared = new GatedFeedForward(Shared("ffn_gate_shexp", sharedHidden, dim), Shared("ffn_up_shexp", sharedHidden, dim),
                Shared("ffn_down_shexp", dim, sharedHidden), c.Activation);
        }
        var sharedGate = moe.SharedExpertGate ? new Linear(matrix(prefix + "ffn_gate_inp_shexp.weight", 1, dim)) : null;
        return new MixtureOfExperts(new Linear(matrix(prefix + "ffn_gate_inp.weight", count, dim)), experts, shared, moe, sharedGate);
    }
}
