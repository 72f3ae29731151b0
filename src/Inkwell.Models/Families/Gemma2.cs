namespace Inkwell.Models.Families;

/// <summary>
/// Gemma 2: GeGLU, embeddings times sqrt(dim), norms before and after both sub-blocks, attention and final logit
/// soft-capping, and every other layer (from the first) on a sliding window. Queries are scaled by
/// query_pre_attn_scalar^-1/2, which llama.cpp derives from the model size (27B: dim / heads).
/// </summary>
internal static class Gemma2
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "gemma2",
        HuggingFaceTypes = ["gemma2"],
        HuggingFaceNormPlusOne = true,
        FromGguf = (m, c) => Common(c) with
        {
            AttentionScale = c.LayerCount == 46 ? 1f / MathF.Sqrt(c.Dim / (float)c.HeadCount) : 1f / MathF.Sqrt(c.HeadDim),
            AttentionSoftCap = m.Float("attn_logit_softcapping", 50f),
            FinalLogitSoftCap = m.Float("final_logit_softcapping", 30f),
            SlidingWindow = m.Int("attention.sliding_window", 4096),
            SlidingLayers = m.SlidingPattern(c.LayerCount, 2),
        },
        FromHuggingFace = (j, c) => Common(c) with
        {
            AttentionScale = 1f / MathF.Sqrt(j.Float("query_pre_attn_scalar", c.HeadDim)),
            AttentionSoftCap = j.Float("attn_logit_softcapping", 0f),
            FinalLogitSoftCap = j.Float("final_logit_softcapping", 0f),
            SlidingWindow = j.Int("sliding_window", 4096),
            SlidingLayers = Enumerable.Range(0, c.LayerCount).Select(l => l % 2 == 0).ToArray(),
        },
    };

    private static ModelConfig Common(ModelConfig c) => c with
    {
        Norms = NormPlacement.PreAndPost,
        Activation = GateActivation.GeluTanh,
        EmbeddingScale = MathF.Sqrt(c.Dim),
    };
}
