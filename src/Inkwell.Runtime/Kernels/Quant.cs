using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// Block decoding shared by the kernels. Every quantized GGML block is rewritten as unsigned integer codes u plus
/// affine scales, so one integer dot product (unsigned weight byte × signed activation byte, the shape of x86
/// maddubs / vpdpbusd) serves all formats:
/// <list type="bullet">
/// <item>32-element types (Q4_0, Q4_1, Q5_0, Q5_1): value = d·u + m.</item>
/// <item>k-quants (Q2_K..Q6_K), per 16-element group j of a 256 super-block: value = d·scale_j·u − dm·min_j.</item>
/// </list>
/// Layouts follow ggml-common.h; the comments name the fields. The k-quant decoders are in Quant.KQuants.cs.
/// </summary>
[SkipLocalsInit]
internal static unsafe partial class Quant
{
    /// <summary>fp16 → fp32 for block scales. A table, like ggml's, because .NET exposes no F16C intrinsic.</summary>
    private static readonly float* s_f16 = BuildF16Table();

    private static float* BuildF16Table()
    {
        var t = (float*)NativeMemory.AlignedAlloc(65536 * sizeof(float), 64);
        for (int i = 0; i < 65536; i++) t[i] = (float)BitConverter.UInt16BitsToHalf((ushort)i);
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float F16(byte* p) => s_f16[Unsafe.ReadUnaligned<ushort>(p)];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float F16(ushort bits) => s_f16[bits];

    public static bool IsBlock32(GgmlType t) => t is GgmlType.Q4_0 or GgmlType.Q4_1 or GgmlType.Q5_0 or GgmlType.Q5_1;

    public static bool IsK(GgmlType t) => t is GgmlType.Q2_K or GgmlType.Q3_K or GgmlType.Q4_K or GgmlType.Q5_K or GgmlType.Q6_K;

    // ---------------------------------------------------------------- 32-element blocks, scalar decode

    /// <summary>Writes the 32 codes of one block to u (element order) and returns d, m with value = d·u + m.</summary>
    public static void Unpack32Scalar(GgmlType t, byte* b, byte* u, out float d, out float m)
    {
        switch (t)
        {
            case GgmlType.Q4_0: // { f16 d; u8 qs[16] }: x[j] = qs[j] & 15, x[j+16] = qs[j] >> 4, value = d·(x − 8)
                d = F16(b); m = -8 * d;
                for (int j = 0; j < 16; j++) { u[j] = (byte)(b[2 + j] & 15); u[j + 16] = (byte)(b[2 + j] >> 4); }
                break;
            case GgmlType.Q4_1: // { f16 d, m; u8 qs[16] }: value = d·x + m
                d = F16(b); m = F16(b + 2);
                for (int j = 0; j < 16; j++) { u[j] = (byte)(b[4 + j] & 15); u[j + 16] = (byte)(b[4 + j] >> 4); }
                break;
            case GgmlType.Q5_0: // { f16 d; u8 qh[4]; u8 qs[16] }: bit j of qh is bit 4 of x[j]; value = d·(x − 16)
            {
                d = F16(b); m = -16 * d;
                uint qh = Unsafe.ReadUnaligned<uint>(b + 2);
                for (int j = 0; j < 32; j++)
                    u[j] = (byte)(((j < 16 ? b[6 + j] & 15 : b[6 + j - 16] >> 4)) | (int)((qh >> j) & 1) << 4);
                break;
            }
            case GgmlType.Q5_1: // { f16 d, m; u8 qh[4]; u8 qs[16] }: value = d·x + m
            {
                d = F16(b); m = F16(b + 2);
                uint qh = Unsafe.ReadUnaligned<uint>(b + 4);
                for (int j = 0; j < 32; j++)
                    u[j] = (byte)(((j < 16 ? b[8 + j] & 15 : b[8 + j - 16] >> 4)) | (int)((qh >> j) & 1) << 4);
                break;
            }
            default: throw new NotSupportedException(t.ToString());
        }
    }

    // ---------------------------------------------------------------- 32-element blocks, SIMD decode

    public interface IBlock32
    {
        static abstract int Bytes { get; }
        /// <summary>Codes of the block, element order, and the affine scales value = d·u + m.</summary>
        static abstract Vector256<byte> Unpack(byte* b, out float d, out float m);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> Nibbles(byte* qs)
    {
        var v = Vector128.Load(qs);
        var lo = v & Vector128.Create((byte)15);
        var hi = Vector128.ShiftRightLogical(v.AsUInt16(), 4).AsByte() & Vector128.Create((byte)15);
        return Vector256.Create(lo, hi);
    }

    /// <summary>Spreads 32 bits to 32 bytes: byte j is 0x10 when bit j is set (the fifth bit of a Q5 code).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> HighBits(uint qh)
    {
        // Byte j takes byte j/8 of qh, then tests bit j%8. Vector256.Shuffle is lane-crossing in general; the
        // indices here stay within each 128-bit lane of a broadcast, which the JIT lowers to one vpshufb.
        var bcast = Vector256.Create(qh).AsByte();
        var idx = Vector256.Create((byte)0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                   2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
        var spread = Avx2.IsSupported ? Avx2.Shuffle(bcast, idx) : Vector256.Shuffle(bcast, idx);
        var bit = Vector256.Create(0x8040201008040201UL).AsByte();
        return Vector256.Equals(spread & bit, bit) & Vector256.Create((byte)0x10);
    }

    public struct Q4_0 : IBlock32
    {
        public static int Bytes => 18;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Unpack(byte* b, out float d, out float m)
        {
            d = F16(b); m = -8 * d;
            return Nibbles(b + 2);
        }
    }

    public struct Q4_1 : IBlock32
    {
        public static int Bytes => 20;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Unpack(byte* b, out float d, out float m)
        {
            d = F16(b); m = F16(b + 2);
            return Nibbles(b + 4);
        }
    }

    public struct Q5_0 : IBlock32
    {
        public static int Bytes => 22;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Unpack(byte* b, out float d, out float m)
        {
            d = F16(b); m = -16 * d;
            return Nibbles(b + 6) | HighBits(Unsafe.ReadUnaligned<uint>(b + 2));
        }
    }

    public struct Q5_1 : IBlock32
    {
        public static int Bytes => 24;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Unpack(byte* b, out float d, out float m)
        {
            d = F16(b); m = F16(b + 2);
            return Nibbles(b + 8) | HighBits(Unsafe.ReadUnaligned<uint>(b + 4));
        }
    }

    // ---------------------------------------------------------------- dequantize

    public static void DequantizeRow(GgmlType t, byte* row, int cols, Span<float> dst)
    {
        if (dst.Length < cols) throw new ArgumentException("destination shorter than a row", nameof(dst));
        fixed (float* y = dst)
        {
            switch (t)
            {
                case GgmlType.F32:
                    Buffer.MemoryCopy(row, y, (long)cols * 4, (long)cols * 4);
                    return;
                case GgmlType.F16:
                    System.Numerics.Tensors.TensorPrimitives.ConvertToSingle(
                        new ReadOnlySpan<Half>(row, cols), new Span<float>(y, cols));
                    return;
                case GgmlType.BF16:
                    for (int i = 0; i < cols; i++) y[i] = BitConverter.Int32BitsToSingle(((ushort*)row)[i] << 16);
                    return;
                case GgmlType.Q8_0:
                    for (int b = 0; b < cols / 32; b++)
                    {
                        byte* blk = row + 34 * b;
                        float d = F16(blk);
                        for (int j = 0; j < 32; j++) y[32 * b + j] = d * ((sbyte*)(blk + 2))[j];
                    }
                    return;
            }
            if (IsBlock32(t))
            {
                byte* u = stackalloc byte[32];
                int bytes = GgmlTypeInfo.BlockBytes(t);
                for (int b = 0; b < cols / 32; b++)
                {
                    Unpack32Scalar(t, row + (long)bytes * b, u, out float d, out float m);
                    for (int j = 0; j < 32; j++) y[32 * b + j] = d * u[j] + m;
                }
                return;
            }
            if (IsK(t))
            {
                byte* buf = stackalloc byte[KUnpackedBytes];
                int bytes = GgmlTypeInfo.BlockBytes(t);
                for (int b = 0; b < cols / 256; b++)
                {
                    UnpackK(t, row + (long)bytes * b, buf, simd: false, out float d, out float dm);
                    short* sc = (short*)(buf + 256);
                    short* mins = (short*)(buf + 288);
                    for (int j = 0; j < 16; j++)
                    {
                        float s = d * sc[j], mm = dm * mins[j];
                        for (int l = 0; l < 16; l++) y[256 * b + 16 * j + l] = s * buf[16 * j + l] - mm;
                    }
                }
                return;
            }
            throw new NotSupportedException($"{t} rows are not supported");
        }
    }
}
