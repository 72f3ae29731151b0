using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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

/// <summary>
/// The Q4_K / Q6_K kernels over <see cref="PackedWeights"/>. Activations are quantized as ActivationQuantization.QuantizeQ8K (one
/// scale per 256, the same rounding, so the integer sums equal the reference path's). Per super-block and
/// activation row, each 32-sub-block (Q4_K) or 16-group (Q6_K) is one vpdpbusd chain whose int32 lanes are the 8
/// weight rows' dots, converted and multiplied into an f32 super-block sum by the 8 rows' d·scale; Q4_K's mins
/// term (Σ min·(sum of 32 activations)) is four vpdpwssd, Q6_K's −32 offset is the chain's start (−32·Σq, the
/// same for all rows); the super-block sum then meets the row's activation scale once.
/// </summary>
internal static unsafe partial class PackedMatMul
{
    /// <summary>
    /// Activation tile bytes per super-block: codes [row 8][256] i8, d [row 8] f32, sums of each 32 [row 8][8] i16
    /// (Q4_K's mins), and −32·(sum of each 16) [row 8][16] i32 (Q6_K's dot starts).
    /// </summary>
    private const int ActKBytes = TileN * 256 + TileN * 4 + TileN * 16 + TileN * 64;
    private const int ActKD = TileN * 256, ActKSums = ActKD + TileN * 4, ActKStarts = ActKSums + TileN * 16;

    /// <summary>Super-blocks per K chunk (see <see cref="KChunk"/>): GroupTile groups' codes stay within L1 beside the activation tile.</summary>
    private const int KChunkQ4K = 2, KChunkQ6K = 2;

    /// <summary>Row k of an activation tile, super-block by super-block (see <see cref="ActKBytes"/>).</summary>
    private static void QuantizeRowK(float* x, int cols, byte* act, int k)
    {
        for (int b = 0; b < cols / 256; b++, x += 256, act += ActKBytes)
        {
            var m = Vector256<float>.Zero;
            for (int j = 0; j < 256; j += 8) m = Vector256.Max(m, Vector256.Abs(Vector256.Load(x + j)));
            var h = Vector128.Max(m.GetLower(), m.GetUpper());
            h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(2, 3, 0, 1)));
            h = Vector128.Max(h, Vector128.Shuffle(h, Vector128.Create(1, 0, 3, 2)));
            float amax = h.ToScalar();
            float id = amax == 0 ? 0 : 127f / amax;
            ((float*)(act + ActKD))[k] = amax / 127f;
            var vid = Vector256.Create(id);
            sbyte* q = (sbyte*)act + 256 * k;
            short* sums = (short*)(act + ActKSums) + 8 * k;
            int* starts = (int*)(act + ActKStarts) + 16 * k;
            for (int j = 0; j < 256; j += 32)
            {
                var i0 = Avx.ConvertToVector256Int32(Vector256.Load(x + j) * vid);
                var i1 = Avx.ConvertToVector256Int32(Vector256.Load(x + j + 8) * vid);
                var i2 = Avx.ConvertToVector256Int32(Vector256.Load(x + j + 16) * vid);
                var i3 = Avx.ConvertToVector256Int32(Vector256.Load(x + j + 24) * vid);
                Vector256.Narrow(Vector256.Narrow(i0, i1), Vector256.Narrow(i2, i3)).Store(q + j);
                int lo = Vector256.Sum(i0 + i1), hi = Vector256.Sum(i2 + i3);
                starts[j / 16] = -32 * lo;
                starts[j / 16 + 1] = -32 * hi;
                sums[j / 32] = (short)(lo + hi);
            }
        }
    }

    /// <summary>Four activation bytes (or two i16) at p, in every int32 lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<short> Bcast16(short* p) => Vector256.Create(Unsafe.ReadUnaligned<int>(p)).AsInt16();

    /// <summary>Eight activation codes at q against 8 weight rows' codes of a 32-sub-block: lane r, row r's dot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot32(sbyte* q, Vector256<byte> w0, Vector256<byte> w1, Vector256<byte> w2,
        Vector256<byte> w3, Vector256<byte> w4, Vector256<byte> w5, Vector256<byte> w6, Vector256<byte> w7)
    {
        var a = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, w0, Bcast(q));
        a = AvxVnni.MultiplyWideningAndAdd(a, w1, Bcast(q + 4));
        a = AvxVnni.MultiplyWideningAndAdd(a, w2, Bcast(q + 8));
        a = AvxVnni.MultiplyWideningAndAdd(a, w3, Bcast(q + 12));
        a = AvxVnni.MultiplyWideningAndAdd(a, w4, Bcast(q + 16));
        a = AvxVnni.MultiplyWideningAndAdd(a, w5, Bcast(q + 20));
        a = AvxVnni.MultiplyWideningAndAdd(a, w6, Bcast(q + 24));
        return AvxVnni.MultiplyWideningAndAdd(a, w7, Bcast(q + 28));
    }

    /// <summary>16 activation codes at q against 4 weight vectors, the chain started at *start.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Dot16(int* start, sbyte* q, Vector256<byte> w0, Vector256<byte> w1,
        Vector256<byte> w2, Vector256<byte> w3)
    {
        var a = AvxVnni.MultiplyWideningAndAdd(Vector256.Create(*start), w0, Bcast(q));
        a = AvxVnni.MultiplyWideningAndAdd(a, w1, Bcast(q + 4));
        a = AvxVnni.MultiplyWideningAndAdd(a, w2, Bcast(q + 8));
        return AvxVnni.MultiplyWideningAndAdd(a, w3, Bcast(q + 12));
    }

    /// <summary>sum += f32(dot) · scale.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Fold(Vector256<float> sum, Vector256<int> dot, Vector256<float> scale)
        => Fma.MultiplyAdd(Avx.ConvertToVector256Single(dot), scale, sum);

    /// <summary>8 u8 / i8 scales at p → f32 lanes, times the rows' d.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ScalesU8(byte* p, Vector256<float> d) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p)) * d;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ScalesI8(sbyte* p, Vector256<float> d) => Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(p)) * d;

    private interface IBits { static abstract bool HasFifth { get; } }
    private struct Four : IBits { public static bool HasFifth => false; }
    private struct Five : IBits { public static bool HasFifth => true; }

    /// <summary>Q4_K, or Q5_K where TB is <see cref="Five"/>: the same record plus a fifth bit per code.</summary>
    private struct Q45K<TB> : IPackedKernel where TB : struct, IBits
    {
        public static int ChunkBlocks => KChunkQ4K;
        public static int ActBytes => ActKBytes;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TN>(PackedWeights w, long block, int len, byte* act, float* y, int yStride, bool add) where TN : struct, ICount
            => Tile<TN>(w.Codes + block * w.CodeBytes, len, act, y, yStride, add);

        /// <summary>8 weight rows × TN activation rows of one tile → y[k·yStride + 0..7] (or += where add).</summary>
        public static void Tile<TN>(byte* w, int nsb, byte* act, float* y, int yStride, bool add) where TN : struct, ICount
        {
            int n = TN.N;
            int groupBytes = TB.HasFifth ? PackedWeights.Q5KGroupBytes : PackedWeights.Q4KGroupBytes;
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
            var m15 = Vector256.Create((byte)15);
            for (int sb = 0; sb < nsb; sb++, w += groupBytes, act += ActKBytes)
            {
                var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
                var s4 = s0; var s5 = s0; var s6 = s0; var s7 = s0;
                var d = Vector256.Load((float*)(w + PackedWeights.Q4KD));
                for (int t = 0; t < 8; t++)
                {
                    // Sub-block t: chunk t / 2, low nibbles for even t, high for odd.
                    byte* v = w + 256 * (t >> 1);
                    Vector256<byte> w0, w1, w2, w3, w4, w5, w6, w7;
                    if ((t & 1) == 0)
                    {
                        w0 = Vector256.Load(v) & m15; w1 = Vector256.Load(v + 32) & m15;
                        w2 = Vector256.Load(v + 64) & m15; w3 = Vector256.Load(v + 96) & m15;
                        w4 = Vector256.Load(v + 128) & m15; w5 = Vector256.Load(v + 160) & m15;
                        w6 = Vector256.Load(v + 192) & m15; w7 = Vector256.Load(v + 224) & m15;
                    }
                    else
                    {
                        w0 = HighNibbles(Vector256.Load(v), m15); w1 = HighNibbles(Vector256.Load(v + 32), m15);
                        w2 = HighNibbles(Vector256.Load(v + 64), m15); w3 = HighNibbles(Vector256.Load(v + 96), m15);
                        w4 = HighNibbles(Vector256.Load(v + 128), m15); w5 = HighNibbles(Vector256.Load(v + 160), m15);
                        w6 = HighNibbles(Vector256.Load(v + 192), m15); w7 = HighNibbles(Vector256.Load(v + 224), m15);
                    }
                    if (TB.HasFifth)
                    {
                        byte* hb = w + PackedWeights.Q5KHigh;
                        w0 |= FifthBit(hb, t); w1 |= FifthBit(hb + 32, t); w2 |= FifthBit(hb + 64, t); w3 |= FifthBit(hb + 96, t);
                        w4 |= FifthBit(hb + 128, t); w5 |= FifthBit(hb + 160, t); w6 |= FifthBit(hb + 192, t); w7 |= FifthBit(hb + 224, t);
                    }
                    var sc = ScalesU8(w + PackedWeights.Q4KScales + 8 * t, d);
                    sbyte* q = (sbyte*)act + 32 * t;
                    s0 = Fold(s0, Dot32(q, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 1) s1 = Fold(s1, Dot32(q + 256, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 2) s2 = Fold(s2, Dot32(q + 512, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 3) s3 = Fold(s3, Dot32(q + 768, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 4) s4 = Fold(s4, Dot32(q + 1024, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 5) s5 = Fold(s5, Dot32(q + 1280, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 6) s6 = Fold(s6, Dot32(q + 1536, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                    if (n > 7) s7 = Fold(s7, Dot32(q + 1792, w0, w1, w2, w3, w4, w5, w6, w7), sc);
                }
                // Mins: lane r of pair vector i holds row r's (min 2i, min 2i+1) as i16.
                byte* mins = w + PackedWeights.Q4KMins;
                var m0 = Avx2.ConvertToVector256Int16(mins).AsInt16(); var m1 = Avx2.ConvertToVector256Int16(mins + 16).AsInt16();
                var m2 = Avx2.ConvertToVector256Int16(mins + 32).AsInt16(); var m3 = Avx2.ConvertToVector256Int16(mins + 48).AsInt16();
                var negDmin = -Vector256.Load((float*)(w + PackedWeights.Q4KDmin));
                float* dx = (float*)(act + ActKD);
                short* sums = (short*)(act + ActKSums);
                a0 = Close(a0, s0, m0, m1, m2, m3, sums, negDmin, dx[0]);
                if (n > 1) a1 = Close(a1, s1, m0, m1, m2, m3, sums + 8, negDmin, dx[1]);
                if (n > 2) a2 = Close(a2, s2, m0, m1, m2, m3, sums + 16, negDmin, dx[2]);
                if (n > 3) a3 = Close(a3, s3, m0, m1, m2, m3, sums + 24, negDmin, dx[3]);
                if (n > 4) a4 = Close(a4, s4, m0, m1, m2, m3, sums + 32, negDmin, dx[4]);
                if (n > 5) a5 = Close(a5, s5, m0, m1, m2, m3, sums + 40, negDmin, dx[5]);
                if (n > 6) a6 = Close(a6, s6, m0, m1, m2, m3, sums + 48, negDmin, dx[6]);
                if (n > 7) a7 = Close(a7, s7, m0, m1, m2, m3, sums + 56, negDmin, dx[7]);
            }
            Finish(a0, y, add);
            if (n > 1) Finish(a1, y + yStride, add);
            if (n > 2) Finish(a2, y + 2 * yStride, add);
            if (n > 3) Finish(a3, y + 3 * yStride, add);
            if (n > 4) Finish(a4, y + 4 * yStride, add);
            if (n > 5) Finish(a5, y + 5 * yStride, add);
            if (n > 6) Finish(a6, y + 6 * yStride, add);
            if (n > 7) Finish(a7, y + 7 * yStride, add);
        }

        /// <summary>Bit t of each byte at p, as bit 4 (0x10): one GFNI transform whose only row picks bit t.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<byte> FifthBit(byte* p, int t)
        {
            var h = Vector256.Load(p);
            if (Gfni.V256.IsSupported)
                return Gfni.V256.GaloisFieldAffineTransform(h, Vector256.Create(1UL << (24 + t)).AsByte(), 0);
            var moved = t <= 4 ? Vector256.ShiftLeft(h.AsUInt16(), 4 - t) : Vector256.ShiftRightLogical(h.AsUInt16(), t - 4);
            return moved.AsByte() & Vector256.Create((byte)0x10);
        }

        /// <summary>acc += dx · (s − dmin · Σ min_j · (sum of the activation's sub-block j)).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Close(Vector256<float> acc, Vector256<float> s, Vector256<short> m0,
            Vector256<short> m1, Vector256<short> m2, Vector256<short> m3, short* sums, Vector256<float> negDmin, float dx)
        {
            var ms = AvxVnni.MultiplyWideningAndAdd(Vector256<int>.Zero, m0, Bcast16(sums));
            ms = AvxVnni.MultiplyWideningAndAdd(ms, m1, Bcast16(sums + 2));
            ms = AvxVnni.MultiplyWideningAndAdd(ms, m2, Bcast16(sums + 4));
            ms = AvxVnni.MultiplyWideningAndAdd(ms, m3, Bcast16(sums + 6));
            return Fma.MultiplyAdd(Fold(s, ms, negDmin), Vector256.Create(dx), acc);
        }
    }

    private struct Q6K : IPackedKernel
    {
        public static int ChunkBlocks => KChunkQ6K;
        public static int ActBytes => ActKBytes;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Run<TN>(PackedWeights w, long block, int len, byte* act, float* y, int yStride, bool add) where TN : struct, ICount
            => Tile<TN>(w.Codes + block * w.CodeBytes, len, act, y, yStride, add);

        /// <summary>8 weight rows × TN activation rows of one tile → y[k·yStride + 0..7] (or += where add).</summary>
        public static void Tile<TN>(byte* w, int nsb, byte* act, float* y, int yStride, bool add) where TN : struct, ICount
        {
            int n = TN.N;
            var a0 = Vector256<float>.Zero; var a1 = a0; var a2 = a0; var a3 = a0;
            var a4 = a0; var a5 = a0; var a6 = a0; var a7 = a0;
            var m63 = Vector256.Create((byte)63);
            for (int sb = 0; sb < nsb; sb++, w += PackedWeights.Q6KGroupBytes, act += ActKBytes)
            {
                var s0 = Vector256<float>.Zero; var s1 = s0; var s2 = s0; var s3 = s0;
                var s4 = s0; var s5 = s0; var s6 = s0; var s7 = s0;
                var d = Vector256.Load((float*)(w + PackedWeights.Q6KD));
                for (int t = 0; t < 8; t++)
                {
                    // Sub-block t = 4h + k: X, Y, Z planes of half h.
                    byte* v = w + 768 * (t >> 2);
                    int k = t & 3;
                    Vector256<byte> w0, w1, w2, w3, w4, w5, w6, w7;
                    if (k == 2)
                    {
                        w0 = Code2(v); w1 = Code2(v + 32); w2 = Code2(v + 64); w3 = Code2(v + 96);
                        w4 = Code2(v + 128); w5 = Code2(v + 160); w6 = Code2(v + 192); w7 = Code2(v + 224);
                    }
                    else
                    {
                        byte* u = v + (k == 3 ? 512 : 256 * k);
                        w0 = Vector256.Load(u) & m63; w1 = Vector256.Load(u + 32) & m63;
                        w2 = Vector256.Load(u + 64) & m63; w3 = Vector256.Load(u + 96) & m63;
                        w4 = Vector256.Load(u + 128) & m63; w5 = Vector256.Load(u + 160) & m63;
                        w6 = Vector256.Load(u + 192) & m63; w7 = Vector256.Load(u + 224) & m63;
                    }
                    var scA = ScalesI8((sbyte*)w + PackedWeights.Q6KScales + 16 * t, d);
                    var scB = ScalesI8((sbyte*)w + PackedWeights.Q6KScales + 16 * t + 8, d);
                    sbyte* q = (sbyte*)act + 32 * t;
                    int* st = (int*)(act + ActKStarts) + 2 * t;
                    s0 = Step(s0, q, st, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 1) s1 = Step(s1, q + 256, st + 16, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 2) s2 = Step(s2, q + 512, st + 32, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 3) s3 = Step(s3, q + 768, st + 48, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 4) s4 = Step(s4, q + 1024, st + 64, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 5) s5 = Step(s5, q + 1280, st + 80, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 6) s6 = Step(s6, q + 1536, st + 96, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                    if (n > 7) s7 = Step(s7, q + 1792, st + 112, w0, w1, w2, w3, w4, w5, w6, w7, scA, scB);
                }
                float* dx = (float*)(act + ActKD);
                a0 = Fma.MultiplyAdd(s0, Vector256.Create(dx[0]), a0);
                if (n > 1) a1 = Fma.MultiplyAdd(s1, Vector256.Create(dx[1]), a1);
                if (n > 2) a2 = Fma.MultiplyAdd(s2, Vector256.Create(dx[2]), a2);
                if (n > 3) a3 = Fma.MultiplyAdd(s3, Vector256.Create(dx[3]), a3);
                if (n > 4) a4 = Fma.MultiplyAdd(s4, Vector256.Create(dx[4]), a4);
                if (n > 5) a5 = Fma.MultiplyAdd(s5, Vector256.Create(dx[5]), a5);
                if (n > 6) a6 = Fma.MultiplyAdd(s6, Vector256.Create(dx[6]), a6);
                if (n > 7) a7 = Fma.MultiplyAdd(s7, Vector256.Create(dx[7]), a7);
            }
            Finish(a0, y, add);
            if (n > 1) Finish(a1, y + yStride, add);
            if (n > 2) Finish(a2, y + 2 * yStride, add);
            if (n > 3) Finish(a3, y + 3 * yStride, add);
            if (n > 4) Finish(a4, y + 4 * yStride, add);
            if (n > 5) Finish(a5, y + 5 * yStride, add);
            if (n > 6) Finish(a6, y + 6 * yStride, add);
            if (n > 7) Finish(a7, y + 7 * yStride, add);
        }

        /// <summary>One activation row's sub-block: two 16-groups, each its own chain, scale and −32·Σq start.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<float> Step(Vector256<float> s, sbyte* q, int* st, Vector256<byte> w0,
            Vector256<byte> w1, Vector256<byte> w2, Vector256<byte> w3, Vector256<byte> w4, Vector256<byte> w5,
            Vector256<byte> w6, Vector256<byte> w7, Vector256<float> scA, Vector256<float> scB)
        {
            var da = Dot16(st, q, w0, w1, w2, w3);
            var db = Dot16(st + 1, q + 16, w4, w5, w6, w7);
            return Fold(Fold(s, da, scA), db, scB);
        }

        /// <summary>Code 2 of the X, Y, Z bytes at p, p + 256, p + 512: their top two bits, as bits 0-1, 2-3, 4-5.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static Vector256<byte> Code2(byte* p)
        {
            var x = Vector256.Load(p); var y = Vector256.Load(p + 256); var z = Vector256.Load(p + 512);
            if (Gfni.V256.IsSupported)
                return Gfni.V256.GaloisFieldAffineTransform(x, Vector256.Create(Top2To0Matrix).AsByte(), 0)
                     | Gfni.V256.GaloisFieldAffineTransform(y, Vector256.Create(Top2To2Matrix).AsByte(), 0)
                     | Gfni.V256.GaloisFieldAffineTransform(z, Vector256.Create(Top2To4Matrix).AsByte(), 0);
            return (Vector256.ShiftRightLogical(x.AsUInt16(), 6).AsByte() & Vector256.Create((byte)0x03))
                 | (Vector256.ShiftRightLogical(y.AsUInt16(), 4).AsByte() & Vector256.Create((byte)0x0c))
                 | (Vector256.ShiftRightLogical(z.AsUInt16(), 2).AsByte() & Vector256.Create((byte)0x30));
        }

        /// <summary>GF(2) matrices moving input bits 6, 7 to output bits 0-1, 2-3, 4-5 (output bit i: matrix byte 7 − i).</summary>
        private const ulong Top2To0Matrix = 0x4080000000000000, Top2To2Matrix = 0x0000408000000000, Top2To4Matrix = 0x0000000040800000;
    }
}
