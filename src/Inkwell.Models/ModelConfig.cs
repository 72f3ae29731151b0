using Inkwell.Runtime.Attention;

namespace Inkwell.Models;

/// <summary>How RoPE pairs the dimensions of a head.</summary>
public enum RopeStyle
{
    /// <summary>Adjacent pairs (2i, 2i+1): llama2.c and GGUF `llama` (whose converter permutes Q/K rows for it).</summary>
    Interleaved,

    /// <summary>Halves (i, i + d/2): Hugging Face checkpoints and most GGUF families (ggml's NEOX mode).</summary>
    HalfSplit,
}

/// <summary>Where a block's RMS norms sit around its attention and feed-forward sub-blocks.</summary>
public enum NormPlacement
{
    /// <summary>x += f(norm(x)): Llama and most.</summary>
    Pre,

    /// <summary>x += norm2(f(norm1(x))): Gemma 2 and 3.</summary>
    PreAndPost,

    /// <summary>x += norm(f(x)): OLMo 2.</summary>
    Post,
}

/// <summary>RMS norms on queries and keys before RoPE.</summary>
public enum QkNorm
{
    None,

    /// <summary>Each head normed on its own with a [headDim] weight (Qwen 3, Gemma 3).</summary>
    PerHead,

    /// <summary>The whole projection normed at once with a [heads * headDim] weight (OLMo 2).</summary>
    AcrossHeads,
}

/// <summary>The gate's activation in a gated feed-forward block.</summary>
public enum GateActivation
{
    /// <summary>SwiGLU: silu(gate) · up.</summary>
    Silu,

    /// <summary>GeGLU with GELU's tanh approximation (Gemma).</summary>
    GeluTanh,
}

/// <summary>
/// Shape and per-family options of a decoder-only transformer. Every option defaults to "off", the Llama block, so a
/// family names only what it changes; the forward pass checks each option once per layer, never per token.
/// </summary>
public sealed record ModelConfig
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

    // RoPE
    public float RopeTheta { get; init; } = 10000f;
    /// <summary>Dimensions of each head that RoPE rotates (all of them unless set).</summary>
    public int RopeDim { get; init; }
    /// <summary>Linear position scaling (rope.scaling.factor with type linear); 1 = none.</summary>
    public float RopeLinearScale { get; init; } = 1f;
    public RopeStyle RopeStyle { get; init; } = RopeStyle.Interleaved;
    /// <summary>Per dimension pair, divides the frequency (GGUF rope_freqs / rope_factors_*, HF llama3 and longrope).</summary>
    public float[]? RopeFrequencyFactors { get; init; }
    /// <summary>Multiplies cos and sin (YaRN's and LongRoPE's attention factor); 1 = none.</summary>
    public float RopeAttentionFactor { get; init; } = 1f;
    /// <summary>YaRN: the context the model was trained with before scaling and the scaling factor; null = no YaRN.</summary>
    public YarnScaling? Yarn { get; init; }
    /// <summary>RoPE base of sliding-window layers, when it differs (Gemma 3: 10k local, 1M global); 0 = RopeTheta.</summary>
    public float RopeThetaSliding { get; init; }
    /// <summary>Per layer, whether it attends without RoPE (SmolLM3's every fourth layer); empty = all rotate.</summary>
    public bool[] NoRopeLayers { get; init; } = [];

    // Attention
    /// <summary>Multiplies q·k; 0 = 1/sqrt(HeadDim).</summary>
    public float AttentionScale { get; init; }
    /// <summary>Scores become cap · tanh(score / cap) (Gemma 2); 0 = none.</summary>
    public float AttentionSoftCap { get; init; }
    /// <summary>Sliding window of the layers that SlidingLayers marks; 0 = none.</summary>
    public int SlidingWindow { get; init; }
    /// <summary>Per layer, whether it uses the sliding window; empty = none.</summary>
    public bool[] SlidingLayers { get; init; } = [];
    public QkNorm QkNorm { get; init; }

    // Block
    public NormPlacement Norms { get; init; }
    public GateActivation Activation { get; init; }
    /// <summary>Multiplies the token embeddings (Gemma: sqrt(dim); Granite); 1 = none.</summary>
    public float EmbeddingScale { get; init; } = 1f;
    /// <summary>Multiplies each sub-block's output before it joins the residual stream (Granite); 1 = none.</summary>
    public float ResidualScale { get; init; } = 1f;
    /// <summary>Multiplies the logits (Granite: 1 / logit_scale); 1 = none.</summary>
    public float LogitScale { get; init; } = 1f;
    /// <summary>Logits become cap · tanh(logit / cap) (Gemma 2); 0 = none.</summary>
    public float FinalLogitSoftCap { get; init; }
    /// <summary>Routed feed-forward blocks (every layer); null = dense.</summary>
    public ExpertsConfig? Experts { get; init; }

    public int QDim => HeadCount * HeadDim;
    public int KvDim => KvHeadCount * HeadDim;

    public bool IsSliding(int layer) => SlidingWindow > 0 && layer < SlidingLayers.Length && SlidingLayers[layer];
    public bool UsesRope(int layer) => layer >= NoRopeLayers.Length || !NoRopeLayers[layer];

    /// <summary>What the attention kernel needs for one layer.</summary>
    public AttentionShape AttentionShape(int layer) => new(HeadCount, KvHeadCount, HeadDim,
        AttentionScale > 0 ? AttentionScale : 1f / MathF.Sqrt(HeadDim), AttentionSoftCap, IsSliding(layer) ? SlidingWindow : 0);

    /// <summary>Fills derived fields and rejects impossible shapes with a message naming the source.</summary>
    public ModelConfig Validated(string source)
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
        Require(c.RopeLinearScale > 0 && float.IsFinite(c.RopeLinearScale), $"RoPE scaling factor {c.RopeLinearScale} must be positive");
        Require(c.RopeFrequencyFactors is null || c.RopeFrequencyFactors.Length == c.RopeDim / 2,
            $"RoPE frequency factors have {c.RopeFrequencyFactors?.Length} entries, expected {c.RopeDim / 2}");
        Require(c.SlidingLayers.Length == 0 || c.SlidingLayers.Length == c.LayerCount, $"sliding-window pattern covers {c.SlidingLayers.Length} layers, not {c.LayerCount}");
        Require(c.NoRopeLayers.Length == 0 || c.NoRopeLayers.Length == c.LayerCount, $"no-RoPE pattern covers {c.NoRopeLayers.Length} layers, not {c.LayerCount}");
        Require(c.SlidingWindow >= 0 && c.AttentionSoftCap >= 0 && c.FinalLogitSoftCap >= 0, "sliding window and soft caps must not be negative");
        c.Experts?.Validate(source);
        return c;
    }
}

/// <summary>YaRN RoPE scaling (ggml's rope_yarn): frequencies blend interpolated and original by a ramp over dimensions.</summary>
public sealed record YarnScaling(float Factor, int OriginalContext, float BetaFast = 32f, float BetaSlow = 1f, float ExtrapolationFactor = 1f);
