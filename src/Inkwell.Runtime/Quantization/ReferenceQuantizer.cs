using System.Buffers.Binary;
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
    /// <summary>The encodings this class can produce (Q5_0 because llama-quantize falls back to it for Q4_K rows that are not whole 256-blocks).</summary>
    public static readonly IReadOnlyList<GgmlType> SupportedTypes = [GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_K, GgmlType.Q6_K, GgmlType.Q5_0];

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
            case GgmlType.Q4_0: QuantizeSymmetric32(source, destination, bits: 4); break;
            case GgmlType.Q5_0: QuantizeSymmetric32(source, destination, bits: 5); break;
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

    /// <summary>
    /// quantize_row_q4_0_ref and quantize_row_q5_0_ref, which differ only in width: with bits b and h = 2^(b-1),
    /// d = (the value of largest magnitude) / -h and q = min(2h - 1, trunc(x / d + h + 0.5)); the low nibbles of
    /// elements j and j + 16 share byte j, and Q5_0 keeps the fifth bits in a 32-bit qh word before them.
    /// </summary>
    private static void QuantizeSymmetric32(ReadOnlySpan<float> x, Span<byte> y, int bits)
    {
        const int Qk = 32;
        int half = 1 << (bits - 1);
        int blockBytes = bits == 4 ? 18 : 22;
        int codesAt = bits == 4 ? 2 : 6;
        for (int i = 0; i < x.Length / Qk; i++)
        {
            var block = x.Slice(i * Qk, Qk);
            var output = y.Slice(i * blockBytes, blockBytes);
            float amax = 0f, max = 0f;
            foreach (float v in block)
            {
                if (amax < MathF.Abs(v))
                {
                    amax = MathF.Abs(v);
                    max = v;
                }
            }
            float d = max / -half;
            float id = d != 0f ? 1.0f / d : 0.0f;
            WriteHalf(output, d);
            uint highBits = 0;
            for (int j = 0; j < Qk / 2; j++)
            {
                // (int8_t)(x * id + h + 0.5f): truncation toward zero, as C converts.
                int xi0 = Math.Min(2 * half - 1, (int)(sbyte)(int)(block[j] * id + (half + 0.5f)));
                int xi1 = Math.Min(2 * half - 1, (int)(sbyte)(int)(block[Qk / 2 + j] * id + (half + 0.5f)));
                output[codesAt + j] = (byte)((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
                highBits |= (uint)((xi0 & 0x10) >> 4) << j;
                highBits |= (uint)((xi1 & 0x10) >> 4) << (j + Qk / 2);
            }
            if (bits == 5) BinaryPrimitives.WriteUInt32LittleEndian(output.Slice(2), highBits);
        }
    }

    /// <summary>GGML_FP32_TO_FP16: IEEE half, round to nearest even (what F16C's _cvtss_sh and ggml's fallback do).</summary>
    internal static void WriteHalf(Span<byte> destination, float value) =>
        Unsafe.WriteUnaligned(ref destination[0], BitConverter.HalfToUInt16Bits((Half)value));

    internal static float ReadHalf(ReadOnlySpan<byte> source) =>
        (float)BitConverter.UInt16BitsToHalf(Unsafe.ReadUnaligned<ushort>(ref Unsafe.AsRef(in source[0])));
}
