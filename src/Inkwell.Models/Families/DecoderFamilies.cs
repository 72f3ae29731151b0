namespace Inkwell.Models.Families;

/// <summary>Every family Inkwell runs, found by GGUF architecture or Hugging Face model_type.</summary>
public static class DecoderFamilies
{
    public static readonly IReadOnlyList<DecoderFamily> All =
        [Llama.Family, Qwen2.Family, Qwen2Moe.Family, Qwen3.Family, Qwen3Moe.Family, Gemma2.Family, Gemma3.Family, Phi3.Family, Granite.Family, Olmo2.Family, SmolLM3.Family];

    public static DecoderFamily? ByArchitecture(string architecture) => All.FirstOrDefault(f => f.Architecture == architecture);

    public static DecoderFamily? ByHuggingFaceType(string modelType) =>
        All.FirstOrDefault(f => f.FromHuggingFace is not null && f.HuggingFaceTypes.Contains(modelType));

    public static IEnumerable<string> HuggingFaceTypes => All.Where(f => f.FromHuggingFace is not null).SelectMany(f => f.HuggingFaceTypes);
}
