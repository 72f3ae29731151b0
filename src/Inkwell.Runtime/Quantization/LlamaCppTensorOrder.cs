namespace Inkwell.Runtime.Quantization;

/// <summary>
/// The order llama.cpp's model loader keeps tensors in (weight_name_comparer in src/llama-model-loader.h), which
/// is the order llama-quantize visits and writes them: by the layer number of "blk.N." (others first), then by
/// name, ordinally.
/// </summary>
public sealed class LlamaCppTensorOrder : IComparer<string>
{
    public static readonly LlamaCppTensorOrder Instance = new();

    public int Compare(string? x, string? y)
    {
        int byLayer = Layer(x).CompareTo(Layer(y));
        return byLayer != 0 ? byLayer : string.CompareOrdinal(x, y);
    }

    /// <summary>sscanf(name, "blk.%d.", &amp;layer) with layer starting at -1.</summary>
    private static int Layer(string? name)
    {
        if (name is null || !name.StartsWith("blk.", StringComparison.Ordinal)) return -1;
        int end = 4;
        if (end < name.Length && name[end] is '-' or '+') end++;
        while (end < name.Length && char.IsAsciiDigit(name[end])) end++;
        return int.TryParse(name.AsSpan(4, end - 4), out int layer) ? layer : -1;
    }
}
