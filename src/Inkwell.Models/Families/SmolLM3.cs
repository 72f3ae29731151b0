namespace Inkwell.Models.Families;

/// <summary>SmolLM3: the Llama block with every fourth layer (4, 8, ...) attending without RoPE (NoPE).</summary>
internal static class SmolLM3
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "smollm3",
        HuggingFaceTypes = ["smollm3"],
        GgufRopeStyle = RopeStyle.Interleaved,
        FromGguf = (_, c) => c with { NoRopeLayerStep = 4 },
        FromHuggingFace = (j, c) => c with { NoRopeLayerStep = j.Int("no_rope_layer_interval", 4) },
    };
}
