using System.Runtime.CompilerServices;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Quantization;

/// <summary>
/// Float rows to GGML blocks, computed exactly as ggml's reference functions (quantize_row_*_ref in
/// ggml/src/ggml-quants.c) compute them without an importance matrix, which is what llama-quantize runs when it
/// has none: the same operations in the same order in single precision, so the bytes match ggml's.
/// </summary>
public static class ReferenceQuantizer
{
    /// <summary>The encodings this class can produce.</summary>
    public static readonly IReadOnlyList<GgmlType> SupportedTypes = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K];

    public static bool CanQuantizeTo(GgmlType type) => SupportedTypes.Contains(type);

    /// <summary>
    /// Encodes <paramref name="source"/> (a whole number of blocks) into <paramref name="destination"/>. F16 is
    /// accepted too: llama-quantize falls back to it for rows that are not a whole number of 32-blocks.
    /// </summary>
    public static void QuantizeRow(GgmlType type, ReadOnlySpan<float> source, Span<byte> destination)
    {
        long needed = GgmlTypeInfo.ByteCount(type, source.Length);
        if (destination.Length < needed)
            throw new ArgumentException($"{type} row of {source.Length} values needs {needed} bytes, the destination has {destination.Length}");
        switch (type)
        {
            case GgmlType.Q8_0: QuantizeQ8_0(source, destination); break;
            case GgmlType.Q4_0: QuantizeQ4_0(source, destination); break;
            case GgmlType.Q4_K: KQuantizer.QuantizeQ4_K(source, destination); break;
            case GgmlType.Q6_K: KQuantizer.QuantizeQ6_K(source, destination); break;
            case GgmlType.F16:
                for (int i = 0; i < source.Length; i++) WriteHalf(destination.Slice(2 * i), source[i]);
                break;
            default:
                throw new NotSupportedException($"quantizing to {type} is not implemented (supported: {string.Join(", ", SupportedTypes)})");
        }
    }

    /// <summary>quantize_row_q8_0_ref: d = amax / 127, q = roundf(x / d) (half away from zero).</summary>
    private static void QuantizeQ8_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        const int Qk = 32;
        for (int i = 0; i < x.Length / Qk; i++)
        {
            var block = x.Slice(i * Qk, Qk);
            var output = y.Slice(i * 34, 34);
            float amax = 0f;
            foreach (float v in block) amax = amax > MathF.Abs(v) ? amax : MathF.Abs(v); // MAX(amax, fabsf(v))
            float d = amax / ((1 << 7) - 1);
            float id = d != 0f ? 1.0f / d : 0.0f;
            WriteHalf(output, d);
            for (int j = 0; j < Qk; j++)
                output[2 + j] = (byte)(sbyte)MathF.Round(block[j] * id, MidpointRounding.AwayFromZero);
        }
    }

    /// <summary>quantize_row_q4_0_ref: d = (the value of largest magnitude) / -8, q = min(15, trunc(x / d + 8.5)).</summary>
    private static void QuantizeQ4_0(ReadOnlySpan<float> x, Span<byte> y)
    {
        const int Qk = 32;
        for (int i = 0; i < x.Length / Qk; i++)
        {
            var block = x.Slice(i * Qk, Qk);
            var output = y.Slice(i * 18, 18);
            float amax = 0f, max = 0f;
            foreach (float v in block)
            {
                if (amax < MathF.Abs(v))
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }
            float d = max / -8;
            float id = d != 0f ? 1.0f / d : 0.0f;
            WriteHalf(output, d);
            for (int j = 0; j < Qk / 2; j++)
            {
                float x0 = block[j] * id;
                float x1 = block[Qk / 2 + j] * id;
                int xi0 = Math.Min(15, (int)(sbyte)(int)(x0 + 8.5f));
                int xi1 = Math.Min(15, (int)(sbyte)(int)(x1 + 8.5f));
                output[2 + j] = (byte)(xi0 | (xi1 << 4));
            }
        }
    }

    /// <summary>GGML_FP32_TO_FP16: IEEE half, round to nearest even (what F16C's _cvtss_sh and ggml's fallback do).</summary>
    internal static void WriteHalf(Span<byte> destination, float value) =>
        Unsafe.WriteUnaligned(ref destination[0], BitConverter.HalfToUInt16Bits((Half)value));

    internal static float ReadHalf(ReadOnlySpan<byte> source) =>
        (float)BitConverter.UInt16BitsToHalf(Unsafe.ReadUnaligned<ushort>(ref Unsafe.AsRef(in source[0])));
}
