namespace Inkwell.Models.Families;

/// <summary>
/// Phi-3, 3.5 and 4-mini: the Llama block with fused QKV and gate/up projections (split into row views by the
/// loaders) and LongRoPE frequency factors. llama.cpp leaves Phi's sliding window off; so does Inkwell.
/// </summary>
internal static class Phi3
{
    public static readonly DecoderFamily Family = new()
    {
        Architecture = "phi3",
        HuggingFaceTypes = ["phi3"],
        FromHuggingFace = (_, c) => c,
    };
}
