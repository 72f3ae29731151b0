namespace Inkwell.Models.Families;

/// <summary>
/// OLMo 2 (and OLMo 3's sliding-window layers): norms only after each sub-block, and RMS norms on the whole query
/// and key projections (across heads) before RoPE.
/// </summary>
internal static class Olmo2
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "olmo2",
        HuggingFaceTypes = ["olmo2", "olmo3"],
        FromGguf = (m, c) =>
        {
            int window = m.Int("attention.sliding_window", 0);
            return Common(c) with
            {
                SlidingWindow = window,
                SlidingLayers = window > 0 ? m.SlidingPattern(c.LayerCount, 4) : [],
                // Sliding layers rotate without the global scaling (llama.cpp sets their freq_scale to 1).
                RopeThetaSliding = window > 0 ? m.Float("rope.freq_base_swa", c.RopeTheta) : 0f,
            };
        },
        // OLMo 3's config.json adds layer_types and sliding_window.
        FromHuggingFace = (j, c) => Gemma3.HuggingFaceLayerTypes(j, c.LayerCount) is { } sliding
            ? Common(c) with { SlidingWindow = j.Int("sliding_window"), SlidingLayers = sliding, RopeThetaSliding = c.RopeTheta }
            : Common(c),
    };

    private static ModelConfig Common(ModelConfig c) => c with { Norms = NormPlacement.Post, QkNorm = QkNorm.AcrossHeads };
}
