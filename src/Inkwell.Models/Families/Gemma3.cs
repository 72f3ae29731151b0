namespace Inkwell.Models.Families;

/// <summary>
/// Gemma 3 (text): Gemma 2's block without soft-capping but with per-head q/k norms, five sliding-window layers in
/// six by default, and a RoPE base of their own on sliding layers (10k against 1M; no scaling there).
/// </summary>
internal static class Gemma3
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "gemma3",
        HuggingFaceTypes = ["gemma3_text"],
        HuggingFaceNormPlusOne = true,
        FromGguf = (m, c) =>
        {
            int window = m.Int("attention.sliding_window", 0);
            return Common(c) with
            {
                AttentionScale = c.LayerCount == 62 ? 1f / MathF.Sqrt(c.Dim / (float)c.HeadCount) : 1f / MathF.Sqrt(c.HeadDim),
                FinalLogitSoftCap = m.Float("final_logit_softcapping", 0f),
                SlidingWindow = window,
                SlidingLayers = window > 0 ? m.SlidingPattern(c.LayerCount, 6) : [],
                RopeThetaSliding = m.Float("rope.freq_base_swa", 10000f),
            };
        },
        FromHuggingFace = (j, c) =>
        {
            int period = j.Int("sliding_window_pattern", 6);
            return Common(c) with
            {
                AttentionScale = 1f / MathF.Sqrt(j.Float("query_pre_attn_scalar", c.HeadDim)),
                FinalLogitSoftCap = j.Float("final_logit_softcapping", 0f),
                SlidingWindow = j.Int("sliding_window", 4096),
                SlidingLayers = HuggingFaceLayerTypes(j, c.LayerCount) ?? Enumerable.Range(0, c.LayerCount).Select(l => (l + 1) % period != 0).ToArray(),
                RopeThetaSliding = j.Float("rope_local_base_freq", 10000f),
            };
        },
    };

    private static ModelConfig Common(ModelConfig c) => c with
    {
        Norms = NormPlacement.PreAndPost,
        QkNorm = QkNorm.PerHead,
        Activation = GateActivation.GeluTanh,
        EmbeddingScale = MathF.Sqrt(c.Dim),
    };

    /// <summary>config.json's "layer_types" ("sliding_attention" / "full_attention" per layer), when present.</summary>
    internal static bool[]? HuggingFaceLayerTypes(HuggingFaceConfig j, int layers)
    {
        if (!j.Root.TryGetProperty("layer_types", out var types) || types.ValueKind != System.Text.Json.JsonValueKind.Array) return null;
        var sliding = types.EnumerateArray().Select(t => t.GetString() == "sliding_attention").ToArray();
        return sliding.Length == layers ? sliding : throw j.Bad($"layer_types has {sliding.Length} entries for {layers} layers");
    }
}
