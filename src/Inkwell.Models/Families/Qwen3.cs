namespace Inkwell.Models.Families;

/// <summary>Qwen 3 (dense): the Llama block with per-head RMS norms on queries and keys before RoPE.</summary>
internal static class Qwen3
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "qwen3",
        HuggingFaceTypes = ["qwen3"],
        FeedForwardScales = true,
        FromGguf = (_, c) => c with { QkNorm = QkNorm.PerHead },
        FromHuggingFace = (_, c) => c with { QkNorm = QkNorm.PerHead },
    };
}
