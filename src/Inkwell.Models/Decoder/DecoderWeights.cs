namespace Inkwell.Models.Decoder;

/// <summary>
/// One transformer block's weights. Projections are <see cref="Linear"/> ([out, in] rows, optional bias and scale);
/// norms are plain floats, null where the family's block has none.
/// </summary>
public sealed class DecoderLayerWeights
{
    public float[]? AttentionNorm { get; init; }           // [dim] before attention (absent with post-norms only)
    public required Linear Wq { get; init; }               // [heads * headDim, dim]
    public required Linear Wk { get; init; }               // [kvHeads * headDim, dim]
    public required Linear Wv { get; init; }               // [kvHeads * headDim, dim]
    public float[]? QNorm { get; init; }                   // [headDim] or [heads * headDim], see QkNorm
    public float[]? KNorm { get; init; }                   // [headDim] or [kvHeads * headDim]
    public required Linear Wo { get; init; }               // [dim, heads * headDim]
    public float[]? PostAttentionNorm { get; init; }       // [dim] on the attention output (Gemma, OLMo 2)
    public float[]? FfnNorm { get; init; }                 // [dim] before the feed-forward block
    public required IFeedForward FeedForward { get; init; }
    public float[]? PostFfnNorm { get; init; }             // [dim] on the feed-forward output (Gemma, OLMo 2)

    /// <summary>Every weight matrix of the block (attention projections, then the feed-forward's).</summary>
    public IEnumerable<Runtime.Tensors.WeightMatrix> Matrices => new[] { Wq.Weight, Wk.Weight, Wv.Weight, Wo.Weight }.Concat(FeedForward.Matrices);

    public long WeightBytes => Matrices.Sum(m => m.TotalBytes);
}

/// <summary>All weights of a decoder model; Owner keeps mapped files alive and is disposed with it.</summary>
public sealed class DecoderWeights : IDisposable
{
    public required Runtime.Tensors.WeightMatrix TokenEmbedding { get; init; }   // [vocab, dim]
    public required DecoderLayerWeights[] Layers { get; init; }
    public required float[] OutputNorm { get; init; }                           // [dim]
    public required Linear Output { get; init; }                                // [vocab, dim] (may share TokenEmbedding)
    public IDisposable? Owner { get; init; }
    /// <summary>LoRA adapters attached to these weights (slots 1..n of <see cref="SequenceChunk.Adapter"/>); null = none.</summary>
    public Lora.LoraAdapterSet? Adapters { get; internal set; }

    /// <summary>Every weight matrix once: the token embedding, the layers', and the output unless it is the embedding.</summary>
    public IEnumerable<Runtime.Tensors.WeightMatrix> Matrices =>
        new[] { TokenEmbedding }.Concat(Layers.SelectMany(l => l.Matrices))
            .Concat(ReferenceEquals(Output.Weight, TokenEmbedding) ? [] : [Output.Weight]);

    /// <summary>Bytes of weight data (for startup logs and memory accounting).</summary>
    public long WeightBytes => Matrices.Sum(m => m.TotalBytes);

    public void Dispose() => Owner?.Dispose();
}
