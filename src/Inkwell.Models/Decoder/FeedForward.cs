using Inkwell.Models.Lora;
using Inkwell.Runtime.Threading;

namespace Inkwell.Models.Decoder;

/// <summary>
/// The feed-forward slot of a transformer block: y = f(x) row by row. A dense gated MLP today; a mixture of experts
/// implements the same contract (its router and expert GEMMs inside Forward).
/// </summary>
public interface IFeedForward
{
    /// <summary>Working floats it needs per row, which the caller provides as <c>scratch</c>.</summary>
    int ScratchPerRow { get; }

    /// <summary>
    /// Working floats it can use once per batch beside <see cref="ScratchPerRow"/> per row: callers give
    /// rows · ScratchPerRow + this; rows · ScratchPerRow alone still works (a mixture of experts then runs serially).
    /// </summary>
    int ScratchPerPass => 0;

    /// <summary>Every weight matrix it multiplies by (for packing at load and memory accounting).</summary>
    IEnumerable<Runtime.Tensors.WeightMatrix> Matrices { get; }

    long WeightBytes => Matrices.Sum(m => m.TotalBytes);

    /// <summary>y [rows, dim] = f(x [rows, dim]); <paramref name="lora"/> carries each row's adapter to the projections it adapts.</summary>
    void Forward(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int rows, WorkerPool pool, LoraBatch? lora = null);
}

/// <summary>y = (act(x·Wgateᵀ) * x·Wupᵀ)·Wdownᵀ: SwiGLU (Llama) or GeGLU (Gemma).</summary>
public sealed class GatedFeedForward(Linear gate, Linear up, Linear down, GateActivation activation) : IFeedForward
{
    public Linear Gate { get; } = gate;
    public Linear Up { get; } = up;
    public Linear Down { get; } = down;
    public GateActivation Activation { get; } = activation;
    public int HiddenDim => Gate.OutputDim;
    public int ScratchPerRow => 2 * HiddenDim;
    public IEnumerable<Runtime.Tensors.WeightMatrix> Matrices => [Gate.Weight, Up.Weight, Down.Weight];

    public void Forward(ReadOnlySpan<float> x, Span<float> y, Span<float> scratch, int rows, WorkerPool pool, LoraBatch? lora = null)
    {
        int hidden = HiddenDim;
        var gateOut = scratch.Slice(0, rows * hidden);           // [T, hidden] gate, then the gated product
        var upOut = scratch.Slice(rows * hidden, rows * hidden); // [T, hidden]
        Gate.Apply(x, gateOut, rows, pool, lora);
        Up.Apply(x, upOut, rows, pool, lora);
        RowOps.Gate(pool, gateOut, upOut, rows, hidden, Activation);
        Down.Apply(gateOut, y, rows, pool, lora);
    }
}
