using Inkwell.Models.Lora;
using Inkwell.Runtime.Kernels;
using Inkwell.Runtime.Tensors;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Decoder;

/// <summary>
/// y = x·Wᵀ, then an optional bias and an optional per-tensor scale (the ".scale" tensors some GGUF files carry).
/// llama.cpp applies the two in a different order for attention projections (scale, then bias) than for
/// feed-forward ones (bias, then scale); <see cref="BiasFirst"/> says which. Without either, Apply is one GEMM.
/// LoRA adapters add their low-rank delta to the rows that chose them, right after the GEMM (the delta is part of W,
/// as llama.cpp's build_lora_mm adds it before the scale).
/// </summary>
public sealed class Linear
{
    public Linear(WeightMatrix weight, float[]? bias = null, float scale = 1f, bool biasFirst = false)
    {
        if (bias is not null && bias.Length != weight.Rows)
            throw new InvalidDataException($"tensor '{weight.Name}': bias of {bias.Length} values for {weight.Rows} rows");
        Weight = weight;
        Bias = bias;
        Scale = scale;
        BiasFirst = biasFirst;
    }

    public WeightMatrix Weight { get; }
    public float[]? Bias { get; }
    public float Scale { get; }
    public bool BiasFirst { get; }
    public int OutputDim => Weight.Rows;
    public int InputDim => Weight.Cols;
    /// <summary>Each adapter's pair for this projection by slot (null: no adapter adapts it); set by <see cref="LoraAdapterSet.Attach"/>.</summary>
    public LoraPair?[]? LoraPairs { get; internal set; }

    /// <param name="lora">The pass's rows by adapter; null (or no adapter rows) runs the base weights only.</param>
    public void Apply(ReadOnlySpan<float> x, Span<float> y, int rows, WorkerPool pool, LoraBatch? lora = null)
    {
        MatMul.Multiply(Weight, x, y, rows, pool);
        if (lora is { HasAdapters: true } && LoraPairs is { } pairs) lora.AddDeltas(pairs, x, y, InputDim, OutputDim, pool);
        if (Bias is not null || Scale != 1f) RowOps.BiasAndScale(pool, y, rows, Bias, Scale, BiasFirst);
    }
}
