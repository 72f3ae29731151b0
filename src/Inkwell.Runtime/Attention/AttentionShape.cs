namespace Inkwell.Runtime.Attention;

/// <summary>
/// What the attention kernels need to know about a layer: head counts and size (the KV cache slot of one token is
/// KvHeadCount * HeadDim floats), the score scale, and the optional soft cap and sliding window.
/// </summary>
/// <param name="Scale">Multiplies q·k (1/sqrt(HeadDim) for most models).</param>
/// <param name="SoftCap">When positive, scores become SoftCap · tanh(score / SoftCap) after scaling (Gemma 2).</param>
/// <param name="Window">When positive, a query at position p sees keys at p - Window + 1 .. p only.</param>
public readonly record struct AttentionShape(int HeadCount, int KvHeadCount, int HeadDim, float Scale, float SoftCap = 0f, int Window = 0)
{
    public int QDim => HeadCount * HeadDim;
    public int KvDim => KvHeadCount * HeadDim;
    public int GroupSize => HeadCount / KvHeadCount;

    /// <summary>The first key position a query at <paramref name="position"/> sees.</summary>
    public int FirstVisibleKey(int position) => Window > 0 ? Math.Max(0, position - Window + 1) : 0;
}
