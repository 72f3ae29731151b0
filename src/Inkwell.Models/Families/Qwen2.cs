namespace Inkwell.Models.Families;

/// <summary>Qwen 2 and 2.5: the Llama block with Q/K/V biases (and an optional output bias in GGUF).</summary>
internal static class Qwen2
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "qwen2",
        HuggingFaceTypes = ["qwen2"],
        FromHuggingFace = (_, c) => c,
    };
}
