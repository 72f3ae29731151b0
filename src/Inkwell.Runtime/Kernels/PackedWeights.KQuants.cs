using System.Runtime.CompilerServices;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Kernels;

/// <summary>
/// Q4_K, Q5_K and Q6_K in the packed layout. Each group of 8 rows keeps, per 256-element super-block, one record of
/// <see cref="CodeBytes"/> holding codes and scales together, so the kernel walks one pointer.
/// <list type="bullet">
/// <item>Q4_K (<see cref="Q4KGroupBytes"/>): codes [chunk c 4][vector p 8][row 8][4 bytes], byte k of (c, p, r)
/// being the original qs_r[32c + 4p + k]: its low nibble is element 64c + 4p + k (32-sub-block 2c), its high nibble
/// element 64c + 32 + 4p + k (sub-block 2c + 1), as in the source; then the 6-bit scales u8 [sub-block 8][row 8],
/// the 6-bit mins u8 [sub-block pair 4][row 8][2] (one vpdpwssd step per pair), and d, dmin as f32 [row 8] each.</item>
/// <item>Q5_K (<see cref="Q5KGroupBytes"/>): Q4_K's record, then the fifth bits as the source's qh bytes,
/// [vector p 8][row 8][4 bytes] = qh_r[4p + k]: bit t is that position's bit for sub-block t, moved to bit 4 and
/// ORed in (one GFNI transform and an OR per vector).</item>
/// <item>Q6_K (<see cref="Q6KGroupBytes"/>): the 6-bit codes c0..c3 of sub-blocks 4h + 0..3 at one position l of
/// half h go into three bytes X = c0 | (c2 &amp; 3) &lt;&lt; 6, Y = c1 | (c2 &gt;&gt; 2 &amp; 3) &lt;&lt; 6,
/// Z = c3 | (c2 &gt;&gt; 4) &lt;&lt; 6, stored [half 2][X/Y/Z 3][vector p 8][row 8][4 bytes] (l = 4p + byte): three
/// codes are one AND each, the fourth three GFNI bit moves and two ORs, and it stays 6 bits a weight. Then the
/// scales i8 [16-group 16][row 8] and d f32 [row 8].</item>
/// </list>
/// </summary>
internal sealed unsafe partial class PackedWeights
{
    /// <summary>Bytes of one Q4_K group-super-block: codes 1024, scales 64, mins 64, d 32, dmin 32.</summary>
    public const int Q4KGroupBytes = 1216;
    public const int Q4KScales = 1024, Q4KMins = 1088, Q4KD = 1152, Q4KDmin = 1184;

    /// <summary>Bytes of one Q5_K group-super-block: Q4_K's, then the fifth bits (256).</summary>
    public const int Q5KGroupBytes = 1472;
    public const int Q5KHigh = 1216;

    /// <summary>Bytes of one Q6_K group-super-block: codes 1536, scales 128, d 32.</summary>
    public const int Q6KGroupBytes = 1696;
    public const int Q6KScales = 1536, Q6KD = 1664;

    /// <summary>Rows 8g..8g+7 of a k-quant matrix into the packed layout; false on an inf/nan d or dmin.</summary>
    private bool PackGroupK(WeightMatrix w, int g)
    {
        bool q6 = Type == GgmlType.Q6_K, q5 = Type == GgmlType.Q5_K;
        int blockBytes = GgmlTypeInfo.BlockBytes(Type);
        for (int r = 0; r < 8; r++)
        {
            byte* src = w.Row(8 * g + r);
            byte* dst = Codes + (long)g * Blocks * CodeBytes;
            for (int b = 0; b < Blocks; b++, dst += CodeBytes)
            {
                byte* blk = src + (long)blockBytes * b;
                if (!(q6 ? PackQ6K(blk, dst, r) : PackQ45K(blk, dst, r, q5))) return false;
            }
        }
        return true;
    }

    private static bool IsFiniteHalf(ushort h) => (h & 0x7c00) != 0x7c00;

    /// <summary>
    /// Row r of one Q4_K / Q5_K super-block { f16 d, dmin; u8 scales[12]; [Q5_K: u8 qh[32];] u8 qs[128] } into
    /// its slots of dst; the 6-bit scale and min of sub-block j are decoded as ggml's get_scale_min_k4.
    /// </summary>
    private static bool PackQ45K(byte* blk, byte* dst, int r, bool five)
    {
        ushort d = Unsafe.ReadUnaligned<ushort>(blk), dmin = Unsafe.ReadUnaligned<ushort>(blk + 2);
        if (!IsFiniteHalf(d) || !IsFiniteHalf(dmin)) return false;
        for (int c = 0; c < 4; c++)
            for (int p = 0; p < 8; p++)
                Unsafe.WriteUnaligned(dst + 256 * c + 32 * p + 4 * r, Unsafe.ReadUnaligned<uint>(blk + (five ? 48 : 16) + 32 * c + 4 * p));
        if (five)
            for (int p = 0; p < 8; p++)
                Unsafe.WriteUnaligned(dst + Q5KHigh + 32 * p + 4 * r, Unsafe.ReadUnaligned<uint>(blk + 16 + 4 * p));
        byte* s = blk + 4;
        for (int j = 0; j < 8; j++)
        {
            int scale = j < 4 ? s[j] & 63 : (s[j + 4] & 15) | ((s[j - 4] >> 6) << 4);
            int min = j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
            dst[Q4KScales + 8 * j + r] = (byte)scale;
            dst[Q4KMins + 16 * (j >> 1) + 2 * r + (j & 1)] = (byte)min;
        }
        ((float*)(dst + Q4KD))[r] = Quant.F16(d);
        ((float*)(dst + Q4KDmin))[r] = Quant.F16(dmin);
        return true;
    }

    /// <summary>
    /// Row r of one Q6_K super-block { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d } into its slots of dst
    /// (element 128h + 32k + l: low 4 bits from ql[64h + 32(k &amp; 1) + l] nibble k / 2, high 2 from qh[32h + l] &gt;&gt; 2k).
    /// </summary>
    private static bool PackQ6K(byte* blk, byte* dst, int r)
    {
        ushort d = Unsafe.ReadUnaligned<ushort>(blk + 208);
        if (!IsFiniteHalf(d)) return false;
        byte* ql = blk, qh = blk + 128;
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++)
            {
                int hb = qh[32 * h + l];
                int lo0 = ql[64 * h + l], lo1 = ql[64 * h + 32 + l];
                int c0 = (lo0 & 15) | (hb & 3) << 4;
                int c1 = (lo1 & 15) | ((hb >> 2) & 3) << 4;
                int c2 = (lo0 >> 4) | ((hb >> 4) & 3) << 4;
                int c3 = (lo1 >> 4) | ((hb >> 6) & 3) << 4;
                byte* o = dst + 768 * h + 32 * (l >> 2) + 4 * r + (l & 3);
                o[0] = (byte)(c0 | (c2 & 3) << 6);
                o[256] = (byte)(c1 | ((c2 >> 2) & 3) << 6);
                o[512] = (byte)(c3 | (c2 >> 4) << 6);
            }
        for (int g = 0; g < 16; g++) dst[Q6KScales + 8 * g + r] = blk[192 + g];
        ((float*)(dst + Q6KD))[r] = Quant.F16(d);
        return true;
    }
}
