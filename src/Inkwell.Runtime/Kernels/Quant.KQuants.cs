using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using Inkwell.Runtime.Tensors;

namespace Inkwell.Runtime.Kernels;

/// <summary>The k-quant decoders (Q2_K..Q6_K super-blocks of 256 to codes, 16-group scales and mins).</summary>
internal static unsafe partial class Quant
{
    // ---------------------------------------------------------------- k-quants

    /// <summary>Bytes of one unpacked k-quant super-block: u8 codes[256], i16 scales[16], i16 mins[16].</summary>
    public const int KUnpackedBytes = 256 + 32 + 32;

    /// <summary>
    /// A k-quant format decoded to dst: u8 codes[256] (element order); i16 scales[16] and i16 mins[16], one per
    /// 16-element group. Returns d, dm with value = d·scale·u − dm·min.
    /// </summary>
    public interface IKBlock
    {
        static abstract int Bytes { get; }
        static abstract void Unpack(byte* b, byte* dst, bool simd, out float d, out float dm);

        /// <summary>AVX2 only: the sixteen group scales and mins as i16 vectors, and d, dm.</summary>
        static abstract void Scales(byte* b, out Vector256<short> scales, out Vector256<short> mins, out float d, out float dm);

        /// <summary>AVX2 only: codes of elements 32k .. 32k+31 (k &lt; 8), decoded in registers.</summary>
        static abstract Vector256<byte> Codes(byte* b, int k);
    }

    /// <summary>Q4_K/Q5_K packed 6-bit scales and mins, each widened to its two 16-groups (ggml's utmp masks).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Scales45K(byte* b, out Vector256<short> scales, out Vector256<short> mins)
    {
        uint u0 = Unsafe.ReadUnaligned<uint>(b + 4), u1 = Unsafe.ReadUnaligned<uint>(b + 8), u2 = Unsafe.ReadUnaligned<uint>(b + 12);
        ulong sc = (u0 & 0x3f3f3f3fu) | (ulong)((u2 & 0x0f0f0f0fu) | (((u0 >> 6) & 0x03030303u) << 4)) << 32;
        ulong mn = (u1 & 0x3f3f3f3fu) | (ulong)(((u2 >> 4) & 0x0f0f0f0fu) | (((u1 >> 6) & 0x03030303u) << 4)) << 32;
        var dup = Vector128.Create((byte)0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7);
        scales = Avx2.ConvertToVector256Int16(Ssse3.Shuffle(Vector128.CreateScalar(sc).AsByte(), dup)).AsInt16();
        mins = Avx2.ConvertToVector256Int16(Ssse3.Shuffle(Vector128.CreateScalar(mn).AsByte(), dup)).AsInt16();
    }

    public static void UnpackK(GgmlType t, byte* b, byte* dst, bool simd, out float d, out float dm)
    {
        switch (t)
        {
            case GgmlType.Q2_K: Q2_K.Unpack(b, dst, simd, out d, out dm); break;
            case GgmlType.Q3_K: Q3_K.Unpack(b, dst, simd, out d, out dm); break;
            case GgmlType.Q4_K: Q4_K.Unpack(b, dst, simd, out d, out dm); break;
            case GgmlType.Q5_K: Q5_K.Unpack(b, dst, simd, out d, out dm); break;
            case GgmlType.Q6_K: Q6_K.Unpack(b, dst, simd, out d, out dm); break;
            default: throw new NotSupportedException(t.ToString());
        }
    }

    /// <summary>
    /// { f16 d, dmin; u8 scales[12]; [Q5_K: u8 qh[32];] u8 qs[128] }: eight 32-groups with a 6-bit scale and min
    /// each (get_scale_min_k4); qs chunk c (32 bytes) holds group 2c in its low nibbles and 2c+1 in its high ones;
    /// for Q5_K, qh bit 2c / 2c+1 of byte l is bit 4 of those codes. value = d·scale·x − dmin·min.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Unpack45K(byte* b, byte* dst, bool simd, bool five, out float d, out float dm)
    {
        d = F16(b); dm = F16(b + 2);
        short* sc = (short*)(dst + 256);
        short* mins = (short*)(dst + 288);
        byte* s = b + 4;
        for (int j = 0; j < 4; j++)
        {
            sc[2 * j] = sc[2 * j + 1] = (short)(s[j] & 63);
            mins[2 * j] = mins[2 * j + 1] = (short)(s[j + 4] & 63);
            int scale = (s[j + 8] & 15) | ((s[j] >> 6) << 4);
            int min = (s[j + 8] >> 4) | ((s[j + 4] >> 6) << 4);
            sc[8 + 2 * j] = sc[9 + 2 * j] = (short)scale;
            mins[8 + 2 * j] = mins[9 + 2 * j] = (short)min;
        }
        byte* u = dst;
        byte* qh = b + 16;
        byte* qs = five ? b + 48 : b + 16;
        if (simd && Vector256.IsHardwareAccelerated)
        {
            var m15 = Vector256.Create((byte)15);
            var x10 = Vector256.Create((byte)0x10);
            var h = five ? Vector256.Load(qh) : default;
            for (int c = 0; c < 4; c++)
            {
                var q = Vector256.Load(qs + 32 * c);
                var lo = q & m15;
                var hi = Vector256.ShiftRightLogical(q.AsUInt16(), 4).AsByte() & m15;
                if (five)
                {
                    lo |= ShiftBitTo4(h, 2 * c) & x10;
                    hi |= ShiftBitTo4(h, 2 * c + 1) & x10;
                }
                lo.Store(u + 64 * c);
                hi.Store(u + 64 * c + 32);
            }
        }
        else
        {
            for (int c = 0; c < 4; c++)
                for (int l = 0; l < 32; l++)
                {
                    int q = qs[32 * c + l];
                    int h0 = five ? ((qh[l] >> (2 * c)) & 1) << 4 : 0;
                    int h1 = five ? ((qh[l] >> (2 * c + 1)) & 1) << 4 : 0;
                    u[64 * c + l] = (byte)((q & 15) | h0);
                    u[64 * c + 32 + l] = (byte)((q >> 4) | h1);
                }
        }
    }

    public struct Q4_K : IKBlock
    {
        public static int Bytes => 144;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* b, byte* dst, bool simd, out float d, out float dm)
            => Unpack45K(b, dst, simd, five: false, out d, out dm);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> mins, out float d, out float dm)
        {
            d = F16(b); dm = F16(b + 2);
            Scales45K(b, out scales, out mins);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Codes(byte* b, int k)
            => Vector256.ShiftRightLogical(Vector256.Load(b + 16 + 32 * (k >> 1)).AsUInt16(), 4 * (k & 1)).AsByte() & Vector256.Create((byte)15);
    }

    public struct Q5_K : IKBlock
    {
        public static int Bytes => 176;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* b, byte* dst, bool simd, out float d, out float dm)
            => Unpack45K(b, dst, simd, five: true, out d, out dm);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> mins, out float d, out float dm)
        {
            d = F16(b); dm = F16(b + 2);
            Scales45K(b, out scales, out mins);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Codes(byte* b, int k)
        {
            var lo = Vector256.ShiftRightLogical(Vector256.Load(b + 48 + 32 * (k >> 1)).AsUInt16(), 4 * (k & 1)).AsByte() & Vector256.Create((byte)15);
            return lo | (ShiftBitTo4(Vector256.Load(b + 16), k) & Vector256.Create((byte)0x10));
        }
    }

    /// <summary>
    /// { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }: two 128-halves; in half h, element 32k + l (k &lt; 4) has
    /// low 4 bits from ql[64h + l + 32(k&amp;1)] (low nibble for k &lt; 2, high for k ≥ 2) and high 2 bits from
    /// qh[32h + l] &gt;&gt; 2k. value = d·scale·(x − 32): min = 32·scale with dm = d.
    /// </summary>
    public struct Q6_K : IKBlock
    {
        public static int Bytes => 210;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> mins, out float d, out float dm)
        {
            d = F16(b + 208); dm = d;
            scales = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(b + 192)));
            mins = Vector256.ShiftLeft(scales, 5);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Codes(byte* b, int k)
        {
            // half h = k / 4, part p = k % 4: low bits from ql[64h + 32(p & 1)] (nibble p / 2), high from qh[32h] >> 2p
            int h = k >> 2, p = k & 3;
            var lo = Vector256.ShiftRightLogical(Vector256.Load(b + 64 * h + 32 * (p & 1)).AsUInt16(), 4 * (p >> 1)).AsByte()
                     & Vector256.Create((byte)15);
            var hb = Vector256.Load(b + 128 + 32 * h).AsUInt16();
            var hi = (2 * p <= 4 ? Vector256.ShiftLeft(hb, 4 - 2 * p) : Vector256.ShiftRightLogical(hb, 2 * p - 4)).AsByte()
                     & Vector256.Create((byte)0x30);
            return lo | hi;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* b, byte* dst, bool simd, out float d, out float dm)
        {
            d = F16(b + 208); dm = d;
            short* sc = (short*)(dst + 256);
            short* mins = (short*)(dst + 288);
            byte* ql = b;
            byte* qh = b + 128;
            byte* u = dst;
            if (simd && Avx2.IsSupported)
            {
                var s16 = Avx2.ConvertToVector256Int16(Vector128.Load((sbyte*)(b + 192)));
                s16.Store(sc);
                Vector256.ShiftLeft(s16, 5).Store(mins);
                var m15 = Vector256.Create((byte)15);
                var m30 = Vector256.Create((byte)0x30);
                for (int h = 0; h < 2; h++)
                {
                    var a = Vector256.Load(ql + 64 * h);
                    var c = Vector256.Load(ql + 64 * h + 32);
                    var hb = Vector256.Load(qh + 32 * h).AsUInt16();
                    byte* o = u + 128 * h;
                    ((a & m15) | (Vector256.ShiftLeft(hb, 4).AsByte() & m30)).Store(o);
                    ((c & m15) | (Vector256.ShiftLeft(hb, 2).AsByte() & m30)).Store(o + 32);
                    ((Vector256.ShiftRightLogical(a.AsUInt16(), 4).AsByte() & m15) | (hb.AsByte() & m30)).Store(o + 64);
                    ((Vector256.ShiftRightLogical(c.AsUInt16(), 4).AsByte() & m15)
                        | (Vector256.ShiftRightLogical(hb, 2).AsByte() & m30)).Store(o + 96);
                }
            }
            else
            {
                for (int j = 0; j < 16; j++) { sc[j] = ((sbyte*)b)[192 + j]; mins[j] = (short)(32 * sc[j]); }
                for (int h = 0; h < 2; h++)
                    for (int l = 0; l < 32; l++)
                    {
                        int a = ql[64 * h + l], c = ql[64 * h + 32 + l], hb = qh[32 * h + l];
                        byte* o = u + 128 * h;
                        o[l] = (byte)((a & 15) | ((hb & 3) << 4));
                        o[l + 32] = (byte)((c & 15) | (((hb >> 2) & 3) << 4));
                        o[l + 64] = (byte)((a >> 4) | (((hb >> 4) & 3) << 4));
                        o[l + 96] = (byte)((c >> 4) | (((hb >> 6) & 3) << 4));
                    }
            }
        }
    }

    /// <summary>
    /// { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }: sixteen 6-bit scales (offset 32), 4-bit lows in bytes
    /// 0..7 (low nibbles for groups 0..7, high for 8..15) and 2-bit highs in bytes 8..11. Element 128n + 32j + l has
    /// 2 bits from qs[32n + l] &gt;&gt; 2j and bit 4n + j of hmask[l], set meaning "no −4": with code x = q2 + 4·h,
    /// value = d·(scale − 32)·(x − 4), so min = 4·(scale − 32) with dm = d.
    /// </summary>
    public struct Q3_K : IKBlock
    {
        public static int Bytes => 110;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> mins, out float d, out float dm)
        {
            d = F16(b + 108); dm = d;
            // ggml's kmask repacking of the 12 bytes into sixteen 6-bit values
            uint a0 = Unsafe.ReadUnaligned<uint>(b + 96), a1 = Unsafe.ReadUnaligned<uint>(b + 100), t = Unsafe.ReadUnaligned<uint>(b + 104);
            const uint k1 = 0x03030303, k2 = 0x0f0f0f0f;
            ulong lo = ((a0 & k2) | (((t >> 0) & k1) << 4)) | (ulong)((a1 & k2) | (((t >> 2) & k1) << 4)) << 32;
            ulong hi = (((a0 >> 4) & k2) | (((t >> 4) & k1) << 4)) | (ulong)(((a1 >> 4) & k2) | (((t >> 6) & k1) << 4)) << 32;
            scales = Avx2.ConvertToVector256Int16(Vector128.Create(lo, hi).AsByte()).AsInt16() - Vector256.Create((short)32);
            mins = Vector256.ShiftLeft(scales, 2);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Codes(byte* b, int k)
        {
            // n = k / 4, j = k % 4: two bits from qs[32n] >> 2j, bit 2 from hmask bit k
            var q2 = Vector256.ShiftRightLogical(Vector256.Load(b + 32 + 32 * (k >> 2)).AsUInt16(), 2 * (k & 3)).AsByte() & Vector256.Create((byte)3);
            var h = Vector256.Load(b).AsUInt16();
            var hb = (k <= 2 ? Vector256.ShiftLeft(h, 2 - k) : Vector256.ShiftRightLogical(h, k - 2)).AsByte() & Vector256.Create((byte)4);
            return q2 | hb;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* b, byte* dst, bool simd, out float d, out float dm)
        {
            d = F16(b + 108); dm = d;
            short* sc = (short*)(dst + 256);
            short* mins = (short*)(dst + 288);
            byte* s = b + 96;
            for (int j = 0; j < 16; j++)
            {
                int lo = j < 8 ? s[j] & 15 : s[j - 8] >> 4;
                int hi = (s[8 + (j & 3)] >> (2 * (j >> 2))) & 3;
                int v = (lo | (hi << 4)) - 32;
                sc[j] = (short)v;
                mins[j] = (short)(4 * v);
            }
            byte* hm = b;
            byte* qs = b + 32;
            byte* u = dst;
            if (simd && Vector256.IsHardwareAccelerated)
            {
                var h = Vector256.Load(hm).AsUInt16();
                var m3 = Vector256.Create((byte)3);
                var m4 = Vector256.Create((byte)4);
                for (int n = 0; n < 2; n++)
                {
                    var q = Vector256.Load(qs + 32 * n).AsUInt16();
                    for (int j = 0; j < 4; j++)
                    {
                        var q2 = Vector256.ShiftRightLogical(q, 2 * j).AsByte() & m3;
                        int bit = 4 * n + j;
                        var hb = (bit <= 2 ? Vector256.ShiftLeft(h, 2 - bit) : Vector256.ShiftRightLogical(h, bit - 2)).AsByte() & m4;
                        (q2 | hb).Store(u + 128 * n + 32 * j);
                    }
                }
            }
            else
            {
                for (int n = 0; n < 2; n++)
                    for (int j = 0; j < 4; j++)
                        for (int l = 0; l < 32; l++)
                            u[128 * n + 32 * j + l] = (byte)(((qs[32 * n + l] >> (2 * j)) & 3)
                                                            | (((hm[l] >> (4 * n + j)) & 1) << 2));
            }
        }
    }

    /// <summary>
    /// { u8 scales[16]; u8 qs[64]; f16 d, dmin }: scale byte = min &lt;&lt; 4 | scale; element 128n + 32j + l has
    /// 2 bits from qs[32n + l] &gt;&gt; 2j. value = d·scale·x − dmin·min.
    /// </summary>
    public struct Q2_K : IKBlock
    {
        public static int Bytes => 84;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Scales(byte* b, out Vector256<short> scales, out Vector256<short> mins, out float d, out float dm)
        {
            d = F16(b + 80); dm = F16(b + 82);
            var raw = Avx2.ConvertToVector256Int16(Vector128.Load(b)).AsInt16();
            scales = raw & Vector256.Create((short)15);
            mins = Vector256.ShiftRightLogical(raw, 4);
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<byte> Codes(byte* b, int k)
            => Vector256.ShiftRightLogical(Vector256.Load(b + 16 + 32 * (k >> 2)).AsUInt16(), 2 * (k & 3)).AsByte() & Vector256.Create((byte)3);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Unpack(byte* b, byte* dst, bool simd, out float d, out float dm)
        {
            d = F16(b + 80); dm = F16(b + 82);
            short* sc = (short*)(dst + 256);
            short* mins = (short*)(dst + 288);
            byte* qs = b + 16;
            byte* u = dst;
            if (simd && Avx2.IsSupported)
            {
                var raw = Avx2.ConvertToVector256Int16(Vector128.Load(b));
                (raw & Vector256.Create((short)15)).Store(sc);
                Vector256.ShiftRightLogical(raw, 4).Store(mins);
                var m3 = Vector256.Create((byte)3);
                for (int n = 0; n < 2; n++)
                {
                    var q = Vector256.Load(qs + 32 * n).AsUInt16();
                    for (int j = 0; j < 4; j++)
                        (Vector256.ShiftRightLogical(q, 2 * j).AsByte() & m3).Store(u + 128 * n + 32 * j);
                }
            }
            else
            {
                for (int j = 0; j < 16; j++) { sc[j] = (short)(b[j] & 15); mins[j] = (short)(b[j] >> 4); }
                for (int n = 0; n < 2; n++)
                    for (int j = 0; j < 4; j++)
                        for (int l = 0; l < 32; l++)
                            u[128 * n + 32 * j + l] = (byte)((qs[32 * n + l] >> (2 * j)) & 3);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<byte> ShiftBitTo4(Vector256<byte> h, int bit)
        => (bit <= 4 ? Vector256.ShiftLeft(h.AsUInt16(), 4 - bit) : Vector256.ShiftRightLogical(h.AsUInt16(), bit - 4)).AsByte();
}
