using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Quantization;

/// <summary>
/// A whole-model quantization as llama-quantize names it: the default block type and llama.cpp's file type number
/// (general.file_type). "q4_k" is llama-quantize's alias of Q4_K_M.
/// </summary>
public sealed record QuantizationScheme(string Name, GgmlType DefaultType, uint FileType)
{
    public static readonly QuantizationScheme Q8_0 = new("q8_0", GgmlType.Q8_0, 7);
    public static readonly QuantizationScheme Q4_0 = new("q4_0", GgmlType.Q4_0, 2);
    public static readonly QuantizationScheme Q4_K_M = new("q4_k", GgmlType.Q4_K, 15);
    public static readonly QuantizationScheme Q6_K = new("q6_k", GgmlType.Q6_K, 18);

    public static readonly IReadOnlyList<QuantizationScheme> All = [Q8_0, Q4_0, Q4_K_M, Q6_K];

    /// <summary>Formats other servers accept for --quantize that need their own kernels or pre-quantized checkpoints.</summary>
    private static readonly string[] s_foreignMethods =
    [
        "bitsandbytes", "bitsandbytes-nf4", "bitsandbytes-fp4", "gptq", "awq", "eetq", "exl2", "fp8", "marlin", "compressed-tensors",
    ];

    public static string SupportedNames => string.Join(", ", All.Select(s => s.Name));

    /// <summary>Parses a --quantize / QUANTIZE value (case-insensitive; q4_k_m is accepted for q4_k).</summary>
    public static QuantizationScheme Parse(string value)
    {
        string v = value.Trim().ToLowerInvariant();
        if (v == "q4_k_m") return Q4_K_M;
        foreach (var s in All)
            if (s.Name == v) return s;
        if (s_foreignMethods.Contains(v))
            throw new NotSupportedException($"quantization '{value}' needs kernels Inkwell does not have; it quantizes f32/f16/bf16 weights to {SupportedNames}");
        throw new ArgumentException($"unknown quantization '{value}' (supported: {SupportedNames})");
    }
}
