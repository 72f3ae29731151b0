using Inkwell.Runtime.Tensors;

namespace Inkwell.Models.Llama;

/// <summary>One transformer block's weights. Matrices are [out, in] rows; norms and biases are plain floats.</summary>
public sealed class LlamaLayerWeights
{
    public required float[] AttentionNorm { get; init; }   // [dim]
    public required WeightMatrix Wq { get; init; }         // [heads * headDim, dim]
    public required WeightMatrix Wk { get; init; }         // [kvHeads * headDim, dim]
    public required WeightMatrix Wv { get; init; }         // [kvHeads * headDim, dim]
    public required WeightMatrix Wo { get; init; }         // [dim, heads * headDim]
    public float[]? Bq { get; init; }                      // [heads * headDim] (qwen2)
    public float[]? Bk { get; init; }                      // [kvHeads * headDim]
    public float[]? Bv { get; init; }                      // [kvHeads * headDim]
    public required float[] FfnNorm { get; init; }         // [dim]
    public required WeightMatrix WGate { get; init; }      // [hidden, dim]  (w1)
    public required WeightMatrix WUp { get; init; }        // [hidden, dim]  (w3)
    public required WeightMatrix WDown { get; init; }      // [dim, hidden]  (w2)
}

/// <summary>All weights of a Llama-family model; Owner keeps mapped files alive and is disposed with it.</summary>
public sealed class LlamaWeights : IDisposable
{
    public required WeightMatrix TokenEmbedding { get; init; }    // [vocab, dim]
    public required LlamaLayerWeights[] Layers { get; init; }
    public required float[] OutputNorm { get; init; }             // [dim]
    public required WeightMatrix Output { get; init; }            // [vocab, dim] (may be TokenEmbedding when tied)
    public IDisposable? Owner { get; init; }

    /// <summary>Bytes of weight data (for startup logs and memory accounting).</summary>
    public long WeightBytes =>
        TokenEmbedding.TotalBytes + (ReferenceEquals(Output, TokenEmbedding) ? 0 : Output.TotalBytes)
        + Layers.Sum(l => l.Wq.TotalBytes + l.Wk.TotalBytes + l.Wv.TotalBytes + l.Wo.TotalBytes
                          + l.WGate.TotalBytes + l.WUp.TotalBytes + l.WDown.TotalBytes);

    public void Dispose() => Owner?.Dispose();
}
