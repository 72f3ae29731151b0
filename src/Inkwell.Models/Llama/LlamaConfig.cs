namespace Inkwell.Models.Llama;

/// <summary>How RoPE pairs the dimensions of a head.</summary>
public enum RopeStyle
{
    /// <summary>Adjacent pairs (2i, 2i+1): llama2.c and GGUF `llama` (whose converter permutes Q/K rows for it).</summary>
    Interleaved,

    /// <summary>Halves (i, i + d/2): Hugging Face checkpoints and GGUF `qwen2` (ggml's NEOX mode).</summary>
    HalfSplit,
}

/// <summary>Hyper-parameters of a Llama-family decoder (Llama 2/3, Mistral, TinyLlama, SmolLM, Qwen2).</summary>
public sealed record LlamaConfig
{
    public required string Architecture { get; init; }
    public required int Dim { get; init; }
    public required int HiddenDim { get; init; }
    public required int LayerCount { get; init; }
    public required int HeadCount { get; init; }
    public required int KvHeadCount { get; init; }
    public required int VocabSize { get; init; }
    public required int ContextLength { get; init; }
    public int HeadDim { get; init; }
    public float RmsNormEps { get; init; } = 1e-5f;
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>Dimensions of each head that RoPE rotates (all of them for Llama).</summary>
    public int RopeDim { get; init; }
    /// <summary>Linear position scaling (rope.scaling.factor with type linear); 1 = none.</summary>
    public float RopeLinearScale { get; init; } = 1f;
    public RopeStyle RopeStyle { get; init; } = RopeStyle.Interleaved;
    public bool HasQkvBias { get; init; }

    public int QDim => HeadCount * HeadDim;
    public int KvDim => KvHeadCount * HeadDim;

    /// <summary>Fills derived fields and rejects impossible shapes with a message naming the source.</summary>
    public LlamaConfig Validated(string source)
    {
        var c = this with
        {
            HeadDim = HeadDim > 0 ? HeadDim : (HeadCount > 0 ? Dim / HeadCount : 0),
        };
        c = c with { RopeDim = RopeDim > 0 ? RopeDim : c.HeadDim };
        void Require(bool ok, string what)
        {
            if (!ok) throw new InvalidDataException($"{source}: {what}");
        }
        Require(c.Dim > 0 && c.HiddenDim > 0 && c.LayerCount > 0 && c.VocabSize > 0, $"bad model shape (dim {c.Dim}, hidden {c.HiddenDim}, layers {c.LayerCount}, vocab {c.VocabSize})");
        Require(c.HeadCount > 0 && c.KvHeadCount > 0 && c.HeadCount % c.KvHeadCount == 0, $"head count {c.HeadCount} is not a multiple of KV head count {c.KvHeadCount}");
        Require(c.HeadDim > 0 && c.HeadDim % 2 == 0, $"head dimension {c.HeadDim} must be even");
        Require(c.RopeDim <= c.HeadDim && c.RopeDim % 2 == 0, $"rope dimension {c.RopeDim} must be even and at most the head dimension {c.HeadDim}");
        Require(c.ContextLength > 0, $"context length {c.ContextLength} must be positive");
        return c;
    }
}
